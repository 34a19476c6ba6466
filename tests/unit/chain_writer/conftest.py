"""A migrated ledger database (real Postgres, no NATS)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from attesta_chain_writer.service import migrate_database
from attesta_common.db import create_pool


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    await migrate_database(pool)
    try:
        yield pool
    finally:
        await pool.close()
