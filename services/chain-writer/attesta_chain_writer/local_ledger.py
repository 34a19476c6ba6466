"""The local ledger: one signed, hash-chained block per batch, kept in Postgres.

Each block names its batch's Merkle root and the previous block's hash, and is signed by
the chain-writer key, so a proof carrying its block can be checked against genesis alone.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from attesta_common.keys import SigningKey
from attesta_common.ledger_proof import GENESIS_PREV_HASH, BlockHeader, LedgerBlock

from attesta_chain_writer.anchor_port import AnchorConflict, AnchorReceipt, SealedBatch

LOCAL_KIND = "local"
# Serialises appends across connections and chain-writer replicas: a block's height and
# prev_hash depend on the tip, which must not move between reading and extending it.
_TIP_LOCK = 0x4C746970  # "Ltip"

_BLOCK_COLUMNS = """
    chain_id, height, batch_seq, merkle_root, leaf_count, prev_hash, block_hash,
    created_at_ms, signer, public_key, signature
"""


def block_from_row(row: Any) -> LedgerBlock:
    header = BlockHeader(
        chain_id=row["chain_id"],
        height=row["height"],
        batch_seq=row["batch_seq"],
        merkle_root=row["merkle_root"],
        leaf_count=row["leaf_count"],
        prev_hash=row["prev_hash"],
        created_at_ms=row["created_at_ms"],
    )
    return LedgerBlock(
        header=header,
        block_hash=row["block_hash"],
        signer=row["signer"],
        public_key=row["public_key"],
        signature=row["signature"],
    )


async def load_block(db: asyncpg.Pool | asyncpg.Connection, batch_seq: int) -> LedgerBlock | None:
    row = await db.fetchrow(
        f"SELECT {_BLOCK_COLUMNS} FROM ledger_blocks WHERE batch_seq = $1", batch_seq
    )
    return None if row is None else block_from_row(row)


def _receipt(block: LedgerBlock) -> AnchorReceipt:
    return AnchorReceipt(kind=LOCAL_KIND, ref=block.block_hash, height=block.header.height)


class LocalLedger:
    """`ChainAnchor` adapter writing to `ledger_blocks`."""

    kind = LOCAL_KIND

    def __init__(self, pool: asyncpg.Pool, key: SigningKey, chain_id: str) -> None:
        self._pool = pool
        self._key = key
        self._chain_id = chain_id

    async def lookup(self, batch_seq: int) -> AnchorReceipt | None:
        block = await load_block(self._pool, batch_seq)
        return None if block is None else _receipt(block)

    async def anchor(self, batch: SealedBatch) -> AnchorReceipt:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _TIP_LOCK)
            existing = await load_block(conn, batch.batch_seq)
            if existing is not None:
                _check_same_batch(existing, batch)
                return _receipt(existing)
            tip = await conn.fetchrow(
                "SELECT height, block_hash FROM ledger_blocks ORDER BY height DESC LIMIT 1"
            )
            block = self._sign(
                BlockHeader(
                    chain_id=self._chain_id,
                    height=1 if tip is None else tip["height"] + 1,
                    batch_seq=batch.batch_seq,
                    merkle_root=batch.merkle_root,
                    leaf_count=batch.leaf_count,
                    prev_hash=GENESIS_PREV_HASH if tip is None else tip["block_hash"],
                    created_at_ms=int(time.time() * 1000),
                )
            )
            await conn.execute(
                f"INSERT INTO ledger_blocks ({_BLOCK_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                block.header.chain_id,
                block.header.height,
                block.header.batch_seq,
                block.header.merkle_root,
                block.header.leaf_count,
                block.header.prev_hash,
                block.block_hash,
                block.header.created_at_ms,
                block.signer,
                block.public_key,
                block.signature,
            )
            return _receipt(block)

    def _sign(self, header: BlockHeader) -> LedgerBlock:
        return LedgerBlock(
            header=header,
            block_hash=header.hash(),
            signer=self._key.address,
            public_key=self._key.public_key_hex,
            signature=self._key.sign(header.signing_bytes()),
        )


def _check_same_batch(block: LedgerBlock, batch: SealedBatch) -> None:
    if block.header.merkle_root != batch.merkle_root or block.header.leaf_count != batch.leaf_count:
        raise AnchorConflict(
            f"batch {batch.batch_seq} is already anchored with root {block.header.merkle_root}"
        )
