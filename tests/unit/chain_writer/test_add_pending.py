"""`add_pending`: a whole fetched batch in one statement, never a hash twice or a leaf again."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest
from attesta_chain_writer.pending import PendingRecord, add_pending, count_pending


def _record(i: int) -> PendingRecord:
    return PendingRecord(hashlib.sha256(f"pending {i}".encode()).hexdigest(), "X", i + 1)


async def test_a_batch_goes_in_at_once_and_only_new_hashes_count(pool: asyncpg.Pool) -> None:
    assert await add_pending(pool, [_record(i) for i in range(1000)]) == 1000
    # Redelivered records are committed again but add nothing.
    assert await add_pending(pool, [_record(i) for i in range(990, 1010)]) == 10
    assert await add_pending(pool, []) == 0
    assert await count_pending(pool) == 1010


async def test_a_record_already_a_leaf_is_not_pending_again(pool: asyncpg.Pool) -> None:
    leaf = _record(0)
    await pool.execute(
        "INSERT INTO ledger_batches (batch_seq, merkle_root, leaf_count, state)"
        " VALUES (1, $1, 1, 'sealed')",
        "00" * 32,
    )
    await pool.execute(
        "INSERT INTO ledger_leaves (record_hash, batch_seq, leaf_index, kind)"
        " VALUES ($1, 1, 0, 'X')",
        leaf.record_hash,
    )

    assert await add_pending(pool, [leaf, _record(1)]) == 1
    assert await count_pending(pool) == 1


async def test_a_failed_insert_raises_and_adds_nothing(pool: asyncpg.Pool) -> None:
    await pool.execute("ALTER TABLE ledger_pending RENAME TO ledger_pending_away")
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await add_pending(pool, [_record(i) for i in range(10)])
    finally:
        await pool.execute("ALTER TABLE ledger_pending_away RENAME TO ledger_pending")
    assert await count_pending(pool) == 0
