"""A migrated database, a JetStream client with the Attesta streams, writer settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import nats
import pytest
from attesta_chain_writer.service import migrate_database
from attesta_chain_writer.settings import ChainWriterSettings
from attesta_common.broker import ensure_streams
from attesta_common.db import create_pool
from nats.js import JetStreamContext


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    await migrate_database(pool)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    try:
        yield js
    finally:
        await nc.close()


@pytest.fixture
def make_settings(nats_url: str, database_url: str) -> Callable[..., ChainWriterSettings]:
    def make(**overrides: Any) -> ChainWriterSettings:
        values: dict[str, Any] = {
            "nats_url": nats_url,
            "database_url": database_url,
            "batch_size": 20,
            "batch_interval_ms": 100,
            "retry_delay_s": 0.2,
            "shutdown_flush_s": 5.0,
        }
        values.update(overrides)
        return ChainWriterSettings(**values)

    return make
