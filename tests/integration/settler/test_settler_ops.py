"""The settler's ops endpoints against real NATS and Postgres: health and metrics."""

from __future__ import annotations

import httpx
from attesta_common.metrics import LAST_SETTLED_EPOCH
from prometheus_client.parser import text_string_to_metric_families
from settler_records import SETTLED_EPOCH, eventually, position
from settler_scenario import Net, publish_epoch, seed_escrow, settled_epoch


async def http_get(port: int, path: str) -> tuple[int, str]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}{path}")
    return response.status_code, response.text


async def scrape(port: int) -> dict[str, float]:
    """The unlabelled samples of /metrics (gauges, histogram counts and sums)."""
    status, text = await http_get(port, "/metrics")
    assert status == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


async def test_ops_endpoints_answer_and_metrics_follow_the_projection(net: Net) -> None:
    await seed_escrow(net.pool)
    # Process-wide gauge: a settler of an earlier test may have left the same epoch in it.
    LAST_SETTLED_EPOCH.set(-1)
    settler = net.settler(ops_port=0)
    await settler.start()
    try:
        assert settler.ops is not None
        port = settler.ops.port
        assert port > 0
        assert await http_get(port, "/health/live") == (200, "live\n")
        await settler.wait_active()

        async def ready() -> bool:
            return await http_get(port, "/health/ready") == (200, "ready\n")

        await eventually(ready, what="readiness")
        # The registry is process-wide: compare before and after.
        before = await scrape(port)
        assert before["attesta_settler_last_settled_epoch"] == -1

        await publish_epoch(net)
        settled = await settled_epoch(net)
        assert settled.epoch == SETTLED_EPOCH
        projected = await position(net.pool)
        assert projected > 0

        async def gauges_caught_up() -> bool:
            after = await scrape(port)
            return (
                after["attesta_settler_projection_position"] == projected
                and after["attesta_settler_last_settled_epoch"] == SETTLED_EPOCH
            )

        await eventually(gauges_caught_up, what="the settler gauges")
        after = await scrape(port)
        duration = "attesta_settler_settlement_duration_seconds_count"
        assert after[duration] - before[duration] == 1
        assert await ready()
    finally:
        await settler.stop()
    assert settler.ops is None
    assert settler.readiness()[0] is False


async def test_a_settler_waiting_for_the_lock_is_live_but_not_ready(net: Net) -> None:
    first, second = net.settler(), net.settler(ops_port=0)
    await first.start()
    try:
        await first.wait_active()
        await second.start()
        try:
            assert second.ops is not None
            port = second.ops.port
            assert await http_get(port, "/health/live") == (200, "live\n")
            status, detail = await http_get(port, "/health/ready")
            assert (status, detail) == (503, "waiting for the projection lock\n")
        finally:
            await second.stop()
    finally:
        await first.stop()
