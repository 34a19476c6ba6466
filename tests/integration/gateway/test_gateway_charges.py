"""Charges batched against a real Postgres: what arrives while a statement is in flight
goes in the next one, refunds add up per account, a repeat charges nothing, and a failed
statement reaches every charge in it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from attesta_common.db import create_pool
from attesta_gateway import accounts
from attesta_gateway.charges import ChargeBatcher

RESERVED = 100


class CountingPool:
    """The pool, counting the statements the batcher sends."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements = 0

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.statements += 1
        return await self.pool.fetch(query, *args)


async def _account_holding(pool: asyncpg.Pool, name: str, count: int) -> tuple[str, list[str]]:
    """A new account (10,000) with `count` reservations held: its id and theirs."""
    account = await accounts.create_account(pool, name, f"sk-attesta-{name}", 10_000)
    assert account is not None
    return account.id, await _held(pool, account.id, count, name)


async def _held(pool: asyncpg.Pool, account: str, count: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    for inference_id in ids:
        assert await accounts.reserve(pool, account, inference_id, RESERVED)
    return ids


async def test_concurrent_charges_share_statements_and_refunds_add_up(
    pool: asyncpg.Pool,
) -> None:
    first = await accounts.create_account(pool, "a", "sk-attesta-a", 10_000)
    second = await accounts.create_account(pool, "b", "sk-attesta-b", 10_000)
    assert first is not None and second is not None
    ids = await _held(pool, first.id, 12, "a") + await _held(pool, second.id, 8, "b")
    counting = CountingPool(pool)
    batcher = ChargeBatcher(counting, max_batch=64)  # type: ignore[arg-type]
    costs = {inference_id: 10 + i for i, inference_id in enumerate(ids)}
    charged = await asyncio.gather(*(batcher.charge(i, cost) for i, cost in costs.items()))
    assert charged == list(costs.values())
    # All twenty were queued in the same loop turn: one statement took them all.
    assert counting.statements == 1
    spent_first = sum(costs[i] for i in ids[:12])
    spent_second = sum(costs[i] for i in ids[12:])
    balance = "SELECT balance FROM accounts WHERE id = $1"
    assert await pool.fetchval(balance, first.id) == 10_000 - spent_first
    assert await pool.fetchval(balance, second.id) == 10_000 - spent_second
    # A repeat finds nothing held: nothing charged, nothing refunded twice.
    assert await batcher.charge(ids[0], 5) is None
    assert await pool.fetchval(balance, first.id) == 10_000 - spent_first


async def test_charges_arriving_during_a_statement_go_in_the_next(pool: asyncpg.Pool) -> None:
    _account, ids = await _account_holding(pool, "c", 6)
    counting = CountingPool(pool)
    batcher = ChargeBatcher(counting, max_batch=64)  # type: ignore[arg-type]
    first = asyncio.create_task(batcher.charge(ids[0], 1))
    await asyncio.sleep(0)  # the first statement is on its way
    rest = [asyncio.create_task(batcher.charge(i, 2)) for i in ids[1:]]
    assert await first == 1
    assert await asyncio.gather(*rest) == [2] * 5
    assert counting.statements == 2
    await batcher.close()


async def test_a_failed_statement_reaches_every_charge_in_it(
    pool: asyncpg.Pool, database_url: str
) -> None:
    _account, ids = await _account_holding(pool, "d", 3)
    gone = await create_pool(database_url, max_size=1)
    await gone.close()
    batcher = ChargeBatcher(gone)
    results = await asyncio.gather(*(batcher.charge(i, 1) for i in ids), return_exceptions=True)
    assert all(isinstance(r, asyncpg.InterfaceError) for r in results), results


class DeadlockOnce(CountingPool):
    """Postgres aborting the first statement as a deadlock victim."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.statements += 1
        if self.statements == 1:
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return await self.pool.fetch(query, *args)


async def test_a_deadlocked_batch_is_tried_again(pool: asyncpg.Pool) -> None:
    _account, ids = await _account_holding(pool, "e", 4)
    deadlocking = DeadlockOnce(pool)
    batcher = ChargeBatcher(deadlocking)  # type: ignore[arg-type]
    assert await asyncio.gather(*(batcher.charge(i, 3) for i in ids)) == [3] * 4
    assert deadlocking.statements == 2


async def test_lingering_charges_one_after_another_share_a_statement(pool: asyncpg.Pool) -> None:
    # A client's requests one at a time: each charge comes well after the last is sent.
    account, ids = await _account_holding(pool, "f", 4)
    counting = CountingPool(pool)
    batcher = ChargeBatcher(counting, linger_s=0.5)  # type: ignore[arg-type]
    charging = []
    for inference_id in ids:
        charging.append(asyncio.create_task(batcher.charge(inference_id, 7)))
        await asyncio.sleep(0.02)
    assert counting.statements == 0
    assert await asyncio.gather(*charging) == [7] * 4
    assert counting.statements == 1
    balance = await pool.fetchval("SELECT balance FROM accounts WHERE id = $1", account)
    assert balance == 10_000 - 4 * 7


async def test_flush_and_close_end_the_linger(pool: asyncpg.Pool) -> None:
    _account, ids = await _account_holding(pool, "g", 3)
    counting = CountingPool(pool)
    batcher = ChargeBatcher(counting, linger_s=30.0)  # type: ignore[arg-type]
    first = asyncio.create_task(batcher.charge(ids[0], 1))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(batcher.flush(), 5)
    assert (first.done(), counting.statements) == (True, 1)
    second = asyncio.create_task(batcher.charge(ids[1], 2))
    third = asyncio.create_task(batcher.charge(ids[2], 3))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(batcher.close(), 5)
    assert (await second, await third, counting.statements) == (2, 3, 2)


async def test_a_full_batch_does_not_linger(pool: asyncpg.Pool) -> None:
    _account, ids = await _account_holding(pool, "h", 4)
    counting = CountingPool(pool)
    batcher = ChargeBatcher(counting, max_batch=4, linger_s=30.0)  # type: ignore[arg-type]
    charged = asyncio.gather(*(batcher.charge(i, 1) for i in ids))
    assert await asyncio.wait_for(charged, 5) == [1] * 4
    assert counting.statements == 1
