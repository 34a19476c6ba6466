"""Reservations batched against a real Postgres: alone a reservation is the plain statement,
those that queue behind it share the next one, an account's balance is checked as if they
went one by one, and a batch that fails goes one by one."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from attesta_common.db import create_pool
from attesta_gateway import accounts
from attesta_gateway.reservations import ReservationBatcher

RESERVED = 100
BALANCE = "SELECT balance FROM accounts WHERE id = $1"
HELD = "SELECT count(*) FROM reservations WHERE account_id = $1 AND state = 'held'"


class CountingPool:
    """The pool, recording which statement each round trip was: one or many."""

    def __init__(self, pool: asyncpg.Pool, fail_batches: int = 0) -> None:
        self.pool = pool
        self.sent: list[str] = []
        self._fail_batches = fail_batches

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sent.append("one")
        return await self.pool.fetchval(query, *args)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append("many")
        if self._fail_batches:
            self._fail_batches -= 1
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        rows: list[asyncpg.Record] = await self.pool.fetch(query, *args)
        return rows


async def _account(pool: asyncpg.Pool, name: str, balance: int) -> str:
    account = await accounts.create_account(pool, name, f"sk-attesta-{name}", balance)
    assert account is not None
    return account.id


async def test_queued_reservations_share_one_statement(pool: asyncpg.Pool) -> None:
    first, second = await _account(pool, "ra", 10_000), await _account(pool, "rb", 10_000)
    counting = CountingPool(pool)
    batcher = ReservationBatcher(counting)  # type: ignore[arg-type]
    alone = batcher.reserve(first, "ra-0", RESERVED)
    await asyncio.sleep(0)  # the first statement is on its way: the rest queue behind it
    queued = [batcher.reserve(first, f"ra-{i}", RESERVED) for i in range(1, 6)]
    queued += [batcher.reserve(second, f"rb-{i}", RESERVED) for i in range(4)]
    assert await alone is True
    assert await asyncio.gather(*queued) == [True] * 9
    assert counting.sent == ["one", "many"]
    assert await pool.fetchval(BALANCE, first) == 10_000 - 6 * RESERVED
    assert await pool.fetchval(BALANCE, second) == 10_000 - 4 * RESERVED
    assert await pool.fetchval(HELD, first) == 6 and await pool.fetchval(HELD, second) == 4
    await batcher.close()


async def test_a_short_account_gets_as_many_as_fit_in_order(pool: asyncpg.Pool) -> None:
    short, rich = await _account(pool, "rc", 250), await _account(pool, "rd", 10_000)
    counting = CountingPool(pool)
    batcher = ReservationBatcher(counting)  # type: ignore[arg-type]
    opener = batcher.reserve(rich, "rd-0", RESERVED)
    await asyncio.sleep(0)
    queued = [batcher.reserve(short, f"rc-{i}", RESERVED) for i in range(4)]
    queued.append(batcher.reserve(rich, "rd-1", RESERVED))
    assert await opener is True
    # The batch's 400 did not fit 250: one by one, the first two do, the rest not; the
    # other account's reservation went in the batch.
    assert await asyncio.gather(*queued) == [True, True, False, False, True]
    assert counting.sent == ["one", "many", "one", "one", "one", "one"]
    assert await pool.fetchval(BALANCE, short) == 50
    assert await pool.fetchval(HELD, short) == 2
    assert await pool.fetchval(BALANCE, rich) == 10_000 - 2 * RESERVED


async def test_a_failed_batch_goes_one_by_one(pool: asyncpg.Pool) -> None:
    account = await _account(pool, "re", 10_000)
    counting = CountingPool(pool, fail_batches=1)
    batcher = ReservationBatcher(counting)  # type: ignore[arg-type]
    opener = batcher.reserve(account, "re-0", RESERVED)
    await asyncio.sleep(0)
    queued = [batcher.reserve(account, f"re-{i}", RESERVED) for i in range(1, 4)]
    assert await opener is True
    assert await asyncio.gather(*queued) == [True] * 3
    assert counting.sent == ["one", "many", "one", "one", "one"]
    assert await pool.fetchval(BALANCE, account) == 10_000 - 4 * RESERVED


async def test_a_lost_database_reaches_every_reservation(database_url: str) -> None:
    gone = await create_pool(database_url, max_size=1)
    await gone.close()
    batcher = ReservationBatcher(gone)
    waiting = [batcher.reserve("acct-x", f"rx-{i}", RESERVED) for i in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, asyncpg.InterfaceError) for r in results), results
