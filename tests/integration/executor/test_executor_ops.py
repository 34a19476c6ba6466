"""The executor's ops endpoints on a real nats-server: liveness, readiness (engine and
broker), and the Prometheus counters a real request moves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from attesta_common.record_publisher import publish_record
from attesta_common.subjects import inference_requested
from attesta_devnet.genesis_builder import REFERENCE_MODEL, DevnetKeys
from attesta_devnet.nats_server import NatsServer
from attesta_executor.service import Executor
from executor_requests import ExecutorFactory, TokenStream, request_record
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.model

WAIT_S = 30.0


async def get(executor: Executor, path: str) -> httpx.Response:
    assert executor.ops_server is not None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{executor.ops_server.port}") as http:
        return await http.get(path, timeout=5.0)


async def sample(service: Executor, name: str, /, **labels: str) -> float:
    """The value of one sample in /metrics; 0 when it is not there yet."""
    response = await get(service, "/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


async def eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_health_and_metrics_of_a_real_request(
    make_executor: ExecutorFactory,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    executor = make_executor(settings={"ops_port": 0})
    assert executor.readiness() == (False, "engine not loaded; broker not connected")
    await executor.start()
    assert executor.ops_server is not None and executor.ops_server.port > 0

    assert (await get(executor, "/health/live")).status_code == 200
    ready = await get(executor, "/health/ready")
    assert ready.status_code == 200, ready.text

    tokens = "attesta_executor_generated_tokens_total"
    token_labels = {"executor": executor.address, "model": REFERENCE_MODEL}
    finished_before = await sample(executor, "attesta_executor_requests_total", outcome="finished")
    rejected_before = await sample(executor, "attesta_executor_requests_total", outcome="rejected")
    tokens_before = await sample(executor, tokens, **token_labels)

    record, request = request_record(devnet_keys.gateway, executor.address, max_tokens=8)
    stream = await TokenStream.open(nc, request.inference_id)
    await publish_record(gateway_broker, inference_requested(executor.address), record)
    await stream.closed(WAIT_S)
    generated = sum(1 for event in stream.events if event.type == "chunk" and event.token_ids)

    async def counted() -> bool:
        return (
            await sample(executor, "attesta_executor_requests_total", outcome="finished")
            == finished_before + 1
        )

    await eventually(counted, "the finished request counted")
    assert generated > 0
    assert await sample(executor, tokens, **token_labels) == tokens_before + generated
    assert await sample(executor, "attesta_executor_in_flight") == 0

    # Addressed to another executor: acked at once and counted as rejected.
    other = devnet_keys.executors[1].address
    misaddressed, _ = request_record(devnet_keys.gateway, other)
    await publish_record(gateway_broker, inference_requested(executor.address), misaddressed)

    async def rejected() -> bool:
        return (
            await sample(executor, "attesta_executor_requests_total", outcome="rejected")
            == rejected_before + 1
        )

    await eventually(rejected, "the misaddressed request counted as rejected")

    await executor.stop()
    assert executor.ops_server is None


async def test_not_ready_without_the_broker_but_still_live(
    make_executor: ExecutorFactory, nats_server: NatsServer | None
) -> None:
    if nats_server is None:
        pytest.skip("an external NATS_URL cannot be stopped by the test")
    executor = make_executor(settings={"ops_port": 0})
    await executor.start()
    assert (await get(executor, "/health/ready")).status_code == 200

    await asyncio.to_thread(nats_server.stop)

    async def not_ready() -> bool:
        return (await get(executor, "/health/ready")).status_code == 503

    await eventually(not_ready, "readiness to fail without NATS")
    response = await get(executor, "/health/ready")
    assert "broker not connected" in response.text
    assert "engine" not in response.text
    assert (await get(executor, "/health/live")).status_code == 200

    # The broker reconnects on its own once the server is back.
    await asyncio.to_thread(nats_server.start)

    async def ready() -> bool:
        return (await get(executor, "/health/ready")).status_code == 200

    await eventually(ready, "readiness once NATS is back")
