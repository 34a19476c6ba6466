"""Records waiting for a batch (`ledger_pending`).

Exactly-once anchoring rests on one rule: a hash enters `ledger_pending` only if it is
neither pending nor already a leaf. The leaf check and the insert are not atomic on their
own (sealing may move the hash from pending to leaves in between), so inserts hold the
ingestion lock shared and sealing holds it exclusively: an insert sees either no leaf and
a pending row that sealing has not taken yet, or the committed leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

INGEST_LOCK = 0x4C696E67  # "Ling"


@dataclass(frozen=True)
class PendingRecord:
    record_hash: str
    kind: str
    stream_seq: int
    traceparent: str | None = None


async def add_pending(pool: asyncpg.Pool, records: Sequence[PendingRecord]) -> int:
    """Insert the records not yet pending or anchored, in one transaction; returns how many."""
    if not records:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", INGEST_LOCK)
        status: str = await conn.execute(
            """
            INSERT INTO ledger_pending (record_hash, kind, stream_seq, traceparent)
            SELECT r.record_hash, r.kind, r.stream_seq, r.traceparent
            FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
                AS r(record_hash, kind, stream_seq, traceparent)
            WHERE NOT EXISTS (
                SELECT 1 FROM ledger_leaves l WHERE l.record_hash = r.record_hash
            )
            ON CONFLICT (record_hash) DO NOTHING
            """,
            [r.record_hash for r in records],
            [r.kind for r in records],
            [r.stream_seq for r in records],
            [r.traceparent for r in records],
        )
    # asyncpg returns the command tag, "INSERT 0 <rows>".
    return int(status.rsplit(" ", 1)[-1])


async def count_pending(db: asyncpg.Pool | asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM ledger_pending")
    return count
