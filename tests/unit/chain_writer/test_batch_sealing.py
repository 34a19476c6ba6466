"""Pending records and sealing: each record hash ends up in exactly one batch."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
from attesta_chain_writer.pending import PendingRecord, add_pending, count_pending
from attesta_chain_writer.sealing import seal_batch
from attesta_common.merkle import merkle_root


def fake_hash(i: int) -> str:
    return hashlib.sha256(f"record {i}".encode()).hexdigest()


def _records(indices: range, kind: str = "ValidatorSeedCommitted") -> list[PendingRecord]:
    return [PendingRecord(record_hash=fake_hash(i), kind=kind, stream_seq=i + 1) for i in indices]


async def test_pending_ignores_duplicates(pool: asyncpg.Pool) -> None:
    records = _records(range(5))

    assert await add_pending(pool, records) == 5
    assert await add_pending(pool, [*records, records[0]]) == 0
    assert await add_pending(pool, []) == 0
    assert await count_pending(pool) == 5


async def test_seal_takes_stream_order_and_computes_the_root(pool: asyncpg.Pool) -> None:
    # Inserted out of order; the batch follows the stream sequence.
    records = _records(range(7))
    await add_pending(pool, list(reversed(records)))

    batch = await seal_batch(pool, batch_size=5)

    assert batch is not None
    assert (batch.batch_seq, batch.leaf_count) == (1, 5)
    leaves = await pool.fetch(
        "SELECT record_hash, leaf_index, kind FROM ledger_leaves WHERE batch_seq = 1"
        " ORDER BY leaf_index"
    )
    assert [row["record_hash"] for row in leaves] == [r.record_hash for r in records[:5]]
    assert [row["leaf_index"] for row in leaves] == list(range(5))
    assert {row["kind"] for row in leaves} == {"ValidatorSeedCommitted"}
    expected_root = merkle_root([bytes.fromhex(r.record_hash) for r in records[:5]]).hex()
    assert batch.merkle_root == expected_root
    stored = await pool.fetchrow("SELECT * FROM ledger_batches WHERE batch_seq = 1")
    assert (stored["merkle_root"], stored["leaf_count"], stored["state"]) == (
        expected_root,
        5,
        "sealed",
    )
    assert await count_pending(pool) == 2

    rest = await seal_batch(pool, batch_size=5)
    assert rest is not None
    assert (rest.batch_seq, rest.leaf_count) == (2, 2)
    assert await seal_batch(pool, batch_size=5) is None


async def test_a_sealed_record_is_not_pending_again(pool: asyncpg.Pool) -> None:
    records = _records(range(3))
    await add_pending(pool, records)
    await seal_batch(pool, batch_size=10)

    assert await add_pending(pool, records) == 0
    assert await count_pending(pool) == 0
    assert await seal_batch(pool, batch_size=10) is None


async def test_concurrent_ingest_and_sealing_anchor_each_hash_once(pool: asyncpg.Pool) -> None:
    records = _records(range(300))
    chunks = [records[i : i + 25] for i in range(0, len(records), 25)]
    added: list[int] = []
    ingesting = True

    async def ingest_repeatedly() -> None:
        # Records arrive again and again, as after redeliveries, interleaved with seals;
        # enough rounds that a missing ingestion lock shows up almost every run.
        for _ in range(6):
            for chunk in chunks:
                added.append(await add_pending(pool, chunk))
                await asyncio.sleep(0)

    async def seal_repeatedly() -> None:
        while ingesting:
            await seal_batch(pool, batch_size=17)
            await asyncio.sleep(0)

    sealer = asyncio.create_task(seal_repeatedly())
    await asyncio.gather(*(ingest_repeatedly() for _ in range(4)))
    ingesting = False
    await sealer
    while await seal_batch(pool, batch_size=17) is not None:
        pass

    # Each hash entered pending exactly once: the ingestion lock, not the cleanup, held.
    assert sum(added) == len(records)
    leaves = await pool.fetch("SELECT record_hash FROM ledger_leaves")
    assert sorted(row["record_hash"] for row in leaves) == sorted(r.record_hash for r in records)
    assert await count_pending(pool) == 0
    sizes = await pool.fetch("SELECT leaf_count FROM ledger_batches ORDER BY batch_seq")
    assert sum(row["leaf_count"] for row in sizes) == len(records)
