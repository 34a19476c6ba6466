"""Sealing pending records into Merkle batches, and each batch's lifecycle.

A batch is sealed (leaves fixed, root computed), then anchored (`state`, with the
anchor's receipt), then announced (`announced_at`, once `BatchAnchored` is stored).
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from attesta_common.merkle import merkle_root
from opentelemetry import trace
from opentelemetry.trace import Tracer

from attesta_chain_writer.anchor_port import AnchorReceipt, SealedBatch
from attesta_chain_writer.batch_span import start_seal_span
from attesta_chain_writer.pending import INGEST_LOCK


async def seal_batch(
    pool: asyncpg.Pool, batch_size: int, *, min_size: int = 1, tracer: Tracer | None = None
) -> SealedBatch | None:
    """Move up to `batch_size` pending records into a new sealed batch, atomically.

    Leaves are the oldest pending records in stream order (ties by hash), so no record
    waits behind newer ones. None, and nothing changes, when fewer than `min_size` are
    pending.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)
        # A pending row for a hash that is already a leaf can only come from a writer that
        # bypassed the ingestion lock; dropping it keeps one bad row from blocking sealing.
        await conn.execute(
            "DELETE FROM ledger_pending p USING ledger_leaves l WHERE p.record_hash = l.record_hash"
        )
        rows = await conn.fetch(
            """
            SELECT record_hash, kind, traceparent FROM ledger_pending
            ORDER BY stream_seq, record_hash
            LIMIT $1
            FOR UPDATE SKIP LOCKED
            """,
            batch_size,
        )
        if not rows or len(rows) < min_size:
            return None
        span = start_seal_span(
            tracer or trace.get_tracer(__name__), (row["traceparent"] for row in rows)
        )
        hashes = [row["record_hash"] for row in rows]
        batch = SealedBatch(
            batch_seq=await conn.fetchval(
                "SELECT COALESCE(max(batch_seq), 0) + 1 FROM ledger_batches"
            ),
            merkle_root=merkle_root([bytes.fromhex(h) for h in hashes]).hex(),
            leaf_count=len(hashes),
        )
        await conn.execute(
            "INSERT INTO ledger_batches (batch_seq, merkle_root, leaf_count, state)"
            " VALUES ($1, $2, $3, 'sealed')",
            batch.batch_seq,
            batch.merkle_root,
            batch.leaf_count,
        )
        await conn.execute(
            """
            INSERT INTO ledger_leaves (record_hash, batch_seq, leaf_index, kind)
            SELECT record_hash, $1, leaf_index - 1, kind
            FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r(record_hash, kind, leaf_index)
            """,
            batch.batch_seq,
            hashes,
            [row["kind"] for row in rows],
        )
        await conn.execute("DELETE FROM ledger_pending WHERE record_hash = ANY($1::text[])", hashes)
        span.set_attribute("attesta.batch_seq", batch.batch_seq)
        span.set_attribute("attesta.leaf_count", batch.leaf_count)
        span.set_attribute("attesta.merkle_root", batch.merkle_root)
        span.end()
        return batch


async def unfinished_batches(
    db: asyncpg.Pool | asyncpg.Connection,
) -> list[tuple[SealedBatch, AnchorReceipt | None]]:
    """Batches not yet anchored or not yet announced, oldest first, with their receipt if any.

    An anchored batch keeps the receipt it was stored with: it is announced as it was
    anchored, never anchored again (the anchor in use may have changed since).
    """
    rows = await db.fetch(
        """
        SELECT batch_seq, merkle_root, leaf_count, state, anchor_kind, anchor_ref, anchor_height
        FROM ledger_batches
        WHERE state = 'sealed' OR announced_at IS NULL
        ORDER BY batch_seq
        """
    )
    return [
        (
            SealedBatch(
                batch_seq=row["batch_seq"],
                merkle_root=row["merkle_root"],
                leaf_count=row["leaf_count"],
            ),
            None
            if row["state"] == "sealed"
            else AnchorReceipt(
                kind=row["anchor_kind"], ref=row["anchor_ref"], height=row["anchor_height"]
            ),
        )
        for row in rows
    ]


async def mark_anchored(
    db: asyncpg.Pool | asyncpg.Connection, batch: SealedBatch, receipt: AnchorReceipt
) -> float | None:
    """Record the receipt; returns the seconds from sealing to anchoring, or None when the
    batch was no longer sealed (a replica anchored it first and keeps its timestamp)."""
    lag: float | None = await db.fetchval(
        """
        UPDATE ledger_batches
        SET state = 'anchored', anchor_kind = $2, anchor_ref = $3, anchor_height = $4,
            anchored_at = $5
        WHERE batch_seq = $1 AND state = 'sealed'
        -- Both ends on the database's clock: the app's may differ.
        RETURNING EXTRACT(EPOCH FROM clock_timestamp() - sealed_at)::float8
        """,
        batch.batch_seq,
        receipt.kind,
        receipt.ref,
        receipt.height,
        datetime.now(UTC),
    )
    return lag


async def mark_announced(db: asyncpg.Pool | asyncpg.Connection, batch_seq: int) -> None:
    await db.execute(
        "UPDATE ledger_batches SET announced_at = $2 WHERE batch_seq = $1 AND announced_at IS NULL",
        batch_seq,
        datetime.now(UTC),
    )
