"""The local ledger: a linear chain of signed blocks, one per batch, anchored once."""

from __future__ import annotations

import asyncio
import hashlib
import itertools

import asyncpg
import pytest
from attesta_chain_writer.anchor_port import AnchorConflict, SealedBatch
from attesta_chain_writer.local_ledger import LocalLedger, load_block
from attesta_common.genesis import Genesis
from attesta_common.ledger_proof import GENESIS_PREV_HASH, verify_block
from attesta_devnet.genesis_builder import DevnetKeys


async def _sealed(pool: asyncpg.Pool, batch_seq: int, leaf_count: int = 3) -> SealedBatch:
    batch = SealedBatch(
        batch_seq=batch_seq,
        merkle_root=hashlib.sha256(f"root {batch_seq}".encode()).hexdigest(),
        leaf_count=leaf_count,
    )
    await pool.execute(
        "INSERT INTO ledger_batches (batch_seq, merkle_root, leaf_count, state)"
        " VALUES ($1, $2, $3, 'sealed')",
        batch.batch_seq,
        batch.merkle_root,
        batch.leaf_count,
    )
    return batch


@pytest.fixture
def ledger(pool: asyncpg.Pool, devnet_keys: DevnetKeys, genesis: Genesis) -> LocalLedger:
    return LocalLedger(pool, devnet_keys.chain_writer, genesis.chain_id)


async def test_blocks_form_a_signed_hash_chain(
    pool: asyncpg.Pool, ledger: LocalLedger, genesis: Genesis
) -> None:
    receipts = [await ledger.anchor(await _sealed(pool, seq)) for seq in (1, 2, 3)]

    assert [r.height for r in receipts] == [1, 2, 3]
    assert {r.kind for r in receipts} == {"local"}
    blocks = [await load_block(pool, seq) for seq in (1, 2, 3)]
    assert all(block is not None for block in blocks)
    first, second, third = (b for b in blocks if b is not None)
    assert first.header.prev_hash == GENESIS_PREV_HASH
    assert second.header.prev_hash == first.block_hash
    assert third.header.prev_hash == second.block_hash
    for block, receipt in zip((first, second, third), receipts, strict=True):
        assert block.block_hash == receipt.ref == block.header.hash()
        assert block.header.chain_id == genesis.chain_id
        assert verify_block(block, genesis) == []


async def test_anchor_is_idempotent(pool: asyncpg.Pool, ledger: LocalLedger) -> None:
    batch = await _sealed(pool, 1)
    first = await ledger.anchor(batch)
    again = await ledger.anchor(batch)
    next_receipt = await ledger.anchor(await _sealed(pool, 2))

    assert again == first
    assert await ledger.lookup(1) == first
    assert next_receipt.height == 2
    assert await pool.fetchval("SELECT count(*) FROM ledger_blocks") == 2


async def test_lookup_of_unanchored_batch_is_none(pool: asyncpg.Pool, ledger: LocalLedger) -> None:
    await _sealed(pool, 1)
    assert await ledger.lookup(1) is None
    assert await ledger.lookup(99) is None


async def test_another_root_for_an_anchored_batch_is_refused(
    pool: asyncpg.Pool, ledger: LocalLedger
) -> None:
    batch = await _sealed(pool, 1)
    await ledger.anchor(batch)
    forged = SealedBatch(batch_seq=1, merkle_root="ab" * 32, leaf_count=batch.leaf_count)

    with pytest.raises(AnchorConflict):
        await ledger.anchor(forged)


async def test_concurrent_appends_stay_linear(pool: asyncpg.Pool, ledger: LocalLedger) -> None:
    batches = [await _sealed(pool, seq) for seq in range(1, 13)]

    receipts = await asyncio.gather(*(ledger.anchor(b) for b in batches * 2))

    rows = await pool.fetch(
        "SELECT height, prev_hash, block_hash FROM ledger_blocks ORDER BY height"
    )
    assert [row["height"] for row in rows] == list(range(1, 13))
    assert rows[0]["prev_hash"] == GENESIS_PREV_HASH
    for previous, row in itertools.pairwise(rows):
        assert row["prev_hash"] == previous["block_hash"]
    # Both anchors of a batch got the same receipt.
    assert receipts[:12] == receipts[12:]


async def test_block_signed_by_a_key_without_the_role_fails_verification(
    pool: asyncpg.Pool, devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    impostor = LocalLedger(pool, devnet_keys.gateway, genesis.chain_id)
    await impostor.anchor(await _sealed(pool, 1))
    block = await load_block(pool, 1)

    assert block is not None
    assert verify_block(block, genesis) == ["block signer is not a chain-writer in genesis"]
