"""The ops endpoints: liveness always, readiness as the service says, Prometheus metrics."""

from __future__ import annotations

import httpx
from attesta_common.ops_server import OpsServer
from prometheus_client import CollectorRegistry, Counter


async def test_live_ready_and_metrics() -> None:
    registry = CollectorRegistry()
    Counter("attesta_test_things", "things", registry=registry).inc(3)
    state = {"ready": False}
    server = OpsServer("127.0.0.1", 0, lambda: (state["ready"], "engine loading"), registry)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/health/live")).status_code == 200
            not_ready = await client.get("/health/ready")
            assert not_ready.status_code == 503 and "engine loading" in not_ready.text
            state["ready"] = True
            assert (await client.get("/health/ready")).status_code == 200
            metrics = await client.get("/metrics")
            assert "attesta_test_things_total 3.0" in metrics.text
            assert (await client.get("/nope")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
    finally:
        await server.stop()
