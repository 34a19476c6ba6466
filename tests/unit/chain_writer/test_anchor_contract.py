"""The contract every `ChainAnchor` adapter keeps, run against each of them: the local
ledger, and the Cosmos anchor over the in-process chain (both on real Postgres)."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest
from attesta_chain_writer.anchor_port import AnchorConflict, ChainAnchor, SealedBatch
from attesta_chain_writer.cosmos.anchor import CosmosAnchor, RetryPolicy
from attesta_chain_writer.cosmos.memory_chain import MemoryChain
from attesta_chain_writer.cosmos.signer import AnchorSigner, FeePolicy
from attesta_chain_writer.local_ledger import LocalLedger
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys


@pytest.fixture(params=["local", "cosmos"])
def adapter(
    request: pytest.FixtureRequest, pool: asyncpg.Pool, devnet_keys: DevnetKeys, genesis: Genesis
) -> ChainAnchor:
    key = devnet_keys.chain_writer
    if request.param == "local":
        return LocalLedger(pool, key, genesis.chain_id)
    chain = MemoryChain(chain_id=genesis.chain_id)
    signer = AnchorSigner(chain, key.cosmpy_key, "attesta", FeePolicy("stake", 0, 100_000))
    return CosmosAnchor(pool, chain, signer, lambda: 0, RetryPolicy(1.0, 0.01, 2, 0.0))


async def _sealed(pool: asyncpg.Pool, batch_seq: int, leaf_count: int = 3) -> SealedBatch:
    batch = SealedBatch(
        batch_seq, hashlib.sha256(f"root {batch_seq}".encode()).hexdigest(), leaf_count
    )
    await pool.execute(
        "INSERT INTO ledger_batches (batch_seq, merkle_root, leaf_count, state)"
        " VALUES ($1, $2, $3, 'sealed')",
        batch.batch_seq,
        batch.merkle_root,
        batch.leaf_count,
    )
    return batch


async def test_anchoring_again_returns_the_first_receipt(
    pool: asyncpg.Pool, adapter: ChainAnchor
) -> None:
    batch = await _sealed(pool, 1)
    first = await adapter.anchor(batch)
    assert first.kind == adapter.kind
    assert await adapter.anchor(batch) == first
    assert await adapter.lookup(1) == first


async def test_unanchored_batches_have_no_receipt(pool: asyncpg.Pool, adapter: ChainAnchor) -> None:
    await _sealed(pool, 1)
    assert await adapter.lookup(1) is None
    assert await adapter.lookup(99) is None


async def test_batches_get_distinct_refs_at_rising_heights(
    pool: asyncpg.Pool, adapter: ChainAnchor
) -> None:
    receipts = [await adapter.anchor(await _sealed(pool, seq)) for seq in (1, 2, 3)]
    assert len({r.ref for r in receipts}) == 3
    assert [r.height for r in receipts] == sorted(r.height for r in receipts)


async def test_another_root_for_an_anchored_batch_is_a_conflict(
    pool: asyncpg.Pool, adapter: ChainAnchor
) -> None:
    batch = await _sealed(pool, 1)
    await adapter.anchor(batch)
    with pytest.raises(AnchorConflict):
        await adapter.anchor(SealedBatch(1, "00" * 32, batch.leaf_count))
