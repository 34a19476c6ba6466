"""`cosmos_anchors`: the anchoring transaction of each batch and how far it got.

`signed`: bytes stored, maybe broadcast; `included`: in a block at `height`;
`rejected`: refused by the chain, to be signed again at the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from attesta_chain_writer.cosmos.tx import SignedTx


@dataclass(frozen=True)
class AnchorRow:
    batch_seq: int
    merkle_root: str
    leaf_count: int
    epoch: int
    tx: SignedTx
    state: str
    height: int | None


async def load_row(pool: asyncpg.Pool, batch_seq: int) -> AnchorRow | None:
    row = await pool.fetchrow("SELECT * FROM cosmos_anchors WHERE batch_seq = $1", batch_seq)
    if row is None:
        return None
    return AnchorRow(
        batch_seq=row["batch_seq"],
        merkle_root=row["merkle_root"],
        leaf_count=row["leaf_count"],
        epoch=row["epoch"],
        tx=SignedTx(tx_bytes=row["tx_bytes"], tx_hash=row["tx_hash"], sequence=row["sequence"]),
        state=row["state"],
        height=row["height"],
    )


async def save_signed(pool: asyncpg.Pool, row: AnchorRow) -> None:
    """Insert, or replace a transaction that can no longer be included."""
    await pool.execute(
        """
        INSERT INTO cosmos_anchors
            (batch_seq, merkle_root, leaf_count, epoch, tx_hash, tx_bytes, sequence, state)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'signed')
        ON CONFLICT (batch_seq) DO UPDATE
        SET tx_hash = EXCLUDED.tx_hash, tx_bytes = EXCLUDED.tx_bytes,
            sequence = EXCLUDED.sequence, state = 'signed', height = NULL, updated_at = now()
        WHERE cosmos_anchors.state <> 'included'
        """,
        row.batch_seq,
        row.merkle_root,
        row.leaf_count,
        row.epoch,
        row.tx.tx_hash,
        row.tx.tx_bytes,
        row.tx.sequence,
    )


async def mark_state(
    pool: asyncpg.Pool, batch_seq: int, tx_hash: str, state: str, height: int | None = None
) -> None:
    await pool.execute(
        "UPDATE cosmos_anchors SET state = $3, height = $4, updated_at = now()"
        " WHERE batch_seq = $1 AND tx_hash = $2",
        batch_seq,
        tx_hash,
        state,
        height,
    )
