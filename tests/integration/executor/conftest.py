"""An in-process executor on a real nats-server, with the reference model loaded once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from attesta_common.broker import make_broker
from attesta_common.genesis import Genesis, ModelSpec
from attesta_devnet.genesis_builder import REFERENCE_MODEL, DevnetKeys
from attesta_engine.loader import load_reference_engine
from attesta_engine.reference import ReferenceEngine
from attesta_executor.service import Executor
from attesta_executor.settings import ExecutorSettings
from executor_requests import ExecutorFactory
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient


@pytest.fixture(scope="module")
def engine() -> ReferenceEngine:
    # One torch thread: the machine has two cores, and the event loop (heartbeats, the
    # token stream) needs the other; spinning OpenMP workers make a busy box far slower.
    return load_reference_engine(ModelSpec(name=REFERENCE_MODEL), threads=1)


@pytest.fixture
def executor_settings(nats_url: str) -> ExecutorSettings:
    return ExecutorSettings(
        nats_url=nats_url,
        capacity=4,
        heartbeat_interval_s=0.2,
        progress_interval_s=0.5,
        shutdown_grace_s=5.0,
    )


@pytest.fixture
async def make_executor(
    executor_settings: ExecutorSettings,
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
) -> AsyncIterator[ExecutorFactory]:
    """Builds executors (stopped at the end if still running); the default serves
    devnet_keys.executors[0] with the shared engine."""
    made: list[Executor] = []

    def build(**overrides: Any) -> Executor:
        settings = executor_settings.model_copy(update=overrides.pop("settings", {}))
        executor = Executor(
            settings,
            overrides.pop("genesis", genesis),
            overrides.pop("key", devnet_keys.executors[0]),
            engine=overrides.pop("engine", engine),
        )
        made.append(executor)
        return executor

    yield build
    for executor in made:
        if executor.ready:
            await executor.stop()


@pytest.fixture
async def executor(make_executor: ExecutorFactory) -> Executor:
    running = make_executor()
    await running.start()
    return running


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def gateway_broker(nats_url: str) -> AsyncIterator[NatsBroker]:
    """What the gateway publishes requests with."""
    broker = make_broker(nats_url)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()
