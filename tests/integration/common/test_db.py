"""The shared Postgres pool: released connections come back clean without a reset query."""

from __future__ import annotations

import asyncpg
from attesta_common.db import create_pool


async def test_released_connection_has_no_open_transaction(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TABLE left_open (x int)")
            assert conn.is_in_transaction()
        # max_size 1: the same connection again, its transaction rolled back.
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('left_open')") is None
    finally:
        await pool.close()


async def test_release_sends_no_reset_query(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        backend = await pool.fetchval("SELECT pg_backend_pid()")
        for _ in range(3):
            await pool.fetchval("SELECT 1")
        # The last statement this backend ran is the query itself, not asyncpg's reset
        # (`RESET ALL` and friends), which would have followed it on release.
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 2")
        watcher: asyncpg.Connection = await asyncpg.connect(database_url)
        try:
            last = await watcher.fetchval(
                "SELECT query FROM pg_stat_activity WHERE pid = $1", backend
            )
        finally:
            await watcher.close()
        assert last == "SELECT 2"
    finally:
        await pool.close()
