"""The projection position and the lock that keeps a single settler projecting.

The position is the stream sequence of the last record projected; it is advanced in the
transaction that wrote that record's rows, so rows and position never disagree.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

import asyncpg

log = logging.getLogger(__name__)


def lock_key(consumer: str) -> int:
    """A stable signed 64-bit advisory-lock key per projection consumer."""
    digest = hashlib.sha256(f"attesta-settler:{consumer}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def read_position(conn: asyncpg.Connection | asyncpg.Pool, consumer: str) -> int:
    value = await conn.fetchval(
        "SELECT stream_seq FROM projection_positions WHERE consumer = $1", consumer
    )
    return int(value) if value is not None else 0


async def ensure_position(pool: asyncpg.Pool, consumer: str) -> None:
    # A row to lock from the first record on: `FOR UPDATE` on a missing row locks nothing.
    await pool.execute(
        "INSERT INTO projection_positions (consumer, stream_seq) VALUES ($1, 0) "
        "ON CONFLICT (consumer) DO NOTHING",
        consumer,
    )


async def lock_position(conn: asyncpg.Connection, consumer: str) -> int:
    """Lock the position row for this transaction and return it."""
    value = await conn.fetchval(
        "SELECT stream_seq FROM projection_positions WHERE consumer = $1 FOR UPDATE", consumer
    )
    return int(value) if value is not None else 0


async def store_position(conn: asyncpg.Connection, consumer: str, seq: int) -> None:
    await conn.execute(
        "UPDATE projection_positions SET stream_seq = $2 WHERE consumer = $1", consumer, seq
    )


async def hold_projection_lock(
    database_url: str, consumer: str, *, poll_s: float = 1.0
) -> asyncpg.Connection:
    """Wait for the session-level advisory lock; it lasts as long as the returned connection.

    Polling `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock` keeps the
    wait cancellable: a settler stopped while waiting leaves no query behind.
    """
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    key = lock_key(consumer)
    try:
        announced = False
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            if not announced:
                log.info("another settler holds projection %r; waiting for it", consumer)
                announced = True
            await asyncio.sleep(poll_s)
    except BaseException:
        await conn.close()
        raise
    log.info("holding projection lock for %r", consumer)
    return conn
