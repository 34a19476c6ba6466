"""Reservations batched against a real Postgres: alone a reservation is the plain statement,
those that queue behind it share the next one, an account's balance is checked as if they
went one by one, and a batch that fails goes one by one."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from attesta_common.db import create_pool
from attesta_gateway import accounts
from attesta_gateway.reservations import ReservationBatcher

RESERVED = 100
BALANCE = "SELECT balance FROM accounts WHERE id = $1"
HELD = "SELECT count(*) FROM reservations WHERE account_id = $1 AND state = 'held'"


class CountingPool:
    """The pool, recording each round trip: one reservation, many, or a balance lookup;
    `fail_batches` batches fail before reaching Postgres, `lose_batches` after committing
    (their answer lost), `fail_single` names the single reservations that fail."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        fail_batches: int = 0,
        lose_batches: int = 0,
        fail_single: tuple[int, ...] = (),
    ) -> None:
        self.pool = pool
        self.sent: list[str] = []
        self._fail_batches = fail_batches
        self._lose_batches = lose_batches
        self._fail_single = fail_single

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sent.append("one")
        if self.sent.count("one") in self._fail_single:
            raise ConnectionResetError("connection lost")
        return await self.pool.fetchval(query, *args)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        if query.lstrip().startswith("SELECT id, balance"):
            self.sent.append("balances")
        else:
            self.sent.append("many")
            if self._fail_batches:
                self._fail_batches -= 1
                raise asyncpg.DeadlockDetectedError("deadlock detected")
        rows: list[asyncpg.Record] = await self.pool.fetch(query, *args)
        if self._lose_batches and self.sent[-1] == "many":
            self._lose_batches -= 1
            raise ConnectionResetError("the answer was lost")
        return rows


async def _account(pool: asyncpg.Pool, name: str, balance: int) -> str:
    account = await accounts.create_account(pool, name, f"sk-attesta-{name}", balance)
    assert account is not None
    return account.id


async def _behind_one(
    counting: CountingPool, account: str, prefix: str, count: int
) -> list[asyncio.Future[bool | None]]:
    """`count` reservations: the first sent alone, the rest queued behind it."""
    batcher = ReservationBatcher(counting)  # type: ignore[arg-type]
    opener = batcher.reserve(account, f"{prefix}-0", RESERVED)
    await asyncio.sleep(0)  # the first statement is on its way
    queued = [batcher.reserve(account, f"{prefix}-{i}", RESERVED) for i in range(1, count)]
    assert await opener is True
    return queued


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


async def test_a_short_account_gets_each_that_fits_in_order(pool: asyncpg.Pool) -> None:
    short, rich = await _account(pool, "rc", 170), await _account(pool, "rd", 10_000)
    counting = CountingPool(pool)
    batcher = ReservationBatcher(counting)  # type: ignore[arg-type]
    opener = batcher.reserve(rich, "rd-0", RESERVED)
    await asyncio.sleep(0)
    queued = [batcher.reserve(short, f"rc-{i}", amount) for i, amount in enumerate([100] * 2)]
    queued.append(batcher.reserve(rich, "rd-1", RESERVED))
    queued.append(batcher.reserve(short, "rc-2", 50))
    assert await opener is True
    # 250 did not fit 170: as one at a time, 100 does, the next 100 not, then 50 does; the
    # other account's reservation went in the batch. Two more statements, not one each.
    assert await asyncio.gather(*queued) == [True, False, True, True]
    assert counting.sent == ["one", "many", "balances", "many"]
    assert await pool.fetchval(BALANCE, short) == 20
    assert await pool.fetchval(HELD, short) == 2
    assert await pool.fetchval(BALANCE, rich) == 10_000 - 2 * RESERVED


@pytest.mark.parametrize(
    "trouble",
    [
        {"fail_batches": 1},
        # Committed, its answer lost: one by one, each finds itself held already.
        {"lose_batches": 1},
    ],
    ids=["failed", "answer-lost"],
)
async def test_a_failed_batch_goes_one_by_one_and_holds_once(
    pool: asyncpg.Pool, trouble: dict[str, Any]
) -> None:
    name = f"re-{next(iter(trouble))}"
    account = await _account(pool, name, 10_000)
    queued = await _behind_one(counting := CountingPool(pool, **trouble), account, name, 4)
    assert await asyncio.gather(*queued) == [True] * 3
    assert counting.sent == ["one", "many", "one", "one", "one"]
    assert await pool.fetchval(HELD, account) == 4
    assert await pool.fetchval(BALANCE, account) == 10_000 - 4 * RESERVED


async def test_a_lost_database_reaches_every_reservation(database_url: str) -> None:
    gone = await create_pool(database_url, max_size=1)
    await gone.close()
    batcher = ReservationBatcher(gone)
    waiting = [batcher.reserve("acct-x", f"rx-{i}", RESERVED) for i in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, asyncpg.InterfaceError) for r in results), results


async def test_one_failure_one_by_one_is_that_reservations_alone(pool: asyncpg.Pool) -> None:
    account = await _account(pool, "rf", 10_000)
    # The batch fails, then the second of the single reservations does.
    counting = CountingPool(pool, fail_batches=1, fail_single=(3,))
    queued = await _behind_one(counting, account, "rf", 4)
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], ConnectionResetError)
    # What was held is what the futures said: nothing held that nobody knows of.
    assert await pool.fetchval(HELD, account) == 3
    assert await pool.fetchval(BALANCE, account) == 10_000 - 3 * RESERVED
