"""Group commit: concurrent records share transactions; a failure reaches every caller."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import pytest
from attesta_chain_writer.group_commit import GroupCommitter
from attesta_chain_writer.pending import PendingRecord, count_pending


def _record(i: int) -> PendingRecord:
    return PendingRecord(hashlib.sha256(f"gc {i}".encode()).hexdigest(), "X", i + 1)


async def test_concurrent_records_share_transactions(pool: asyncpg.Pool) -> None:
    commits: list[int] = []
    committer = GroupCommitter(pool, max_batch=30, on_added=commits.append)

    await asyncio.gather(*(committer.add(_record(i)) for i in range(100)))
    await committer.add(_record(0))  # already pending: committed, not added

    assert await count_pending(pool) == 100
    assert sum(commits) == 100
    # All hundred arrive before the first transaction starts: they go 30 at a time.
    assert commits == [30, 30, 30, 10]


async def test_a_failed_transaction_fails_every_caller(pool: asyncpg.Pool) -> None:
    committer = GroupCommitter(pool, max_batch=100, on_added=lambda _: None)
    await pool.execute("ALTER TABLE ledger_pending RENAME TO ledger_pending_away")

    results = await asyncio.gather(
        *(committer.add(_record(i)) for i in range(10)), return_exceptions=True
    )

    assert all(isinstance(r, asyncpg.UndefinedTableError) for r in results)
    await pool.execute("ALTER TABLE ledger_pending_away RENAME TO ledger_pending")
    await committer.add(_record(0))
    assert await count_pending(pool) == 1


async def test_a_cancelled_caller_does_not_block_the_others(pool: asyncpg.Pool) -> None:
    committer = GroupCommitter(pool, max_batch=100, on_added=lambda _: None)
    first = asyncio.create_task(committer.add(_record(0)))
    cancelled = asyncio.create_task(committer.add(_record(1)))
    others = [asyncio.create_task(committer.add(_record(i))) for i in range(2, 6)]
    await asyncio.sleep(0)
    cancelled.cancel()

    await asyncio.gather(first, *others)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await count_pending(pool) >= 5
