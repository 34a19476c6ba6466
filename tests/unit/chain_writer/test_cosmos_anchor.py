"""`CosmosAnchor` against the in-process chain replaying a node's answers: success,
sequence mismatch, timeouts, rejections, and restarts that must not anchor twice."""

from __future__ import annotations

import asyncpg
import pytest
from attesta_chain_writer.anchor_port import SealedBatch
from attesta_chain_writer.cosmos.anchor import CosmosAnchor, InclusionTimeout, RetryPolicy
from attesta_chain_writer.cosmos.chain_port import ChainRejected, ChainUnavailable
from attesta_chain_writer.cosmos.memo import AnchorMemo
from attesta_chain_writer.cosmos.memory_chain import MemoryChain
from attesta_chain_writer.cosmos.signer import AnchorSigner, FeePolicy
from attesta_common.keys import SigningKey

BATCH = SealedBatch(batch_seq=1, merkle_root="cd" * 32, leaf_count=5)
FAST = RetryPolicy(inclusion_timeout_s=0.05, poll_interval_s=0.01, retries=3, backoff_s=0.0)


def _anchor(
    pool: asyncpg.Pool, chain: MemoryChain, key: SigningKey, policy: RetryPolicy = FAST
) -> CosmosAnchor:
    signer = AnchorSigner(chain, key.cosmpy_key, "attesta", FeePolicy("stake", 100, 0))
    return CosmosAnchor(pool, chain, signer, lambda: 3, policy)


@pytest.fixture
def chain() -> MemoryChain:
    return MemoryChain(chain_id="anchor-test")


async def test_one_transaction_per_batch_with_the_memo(
    pool: asyncpg.Pool, chain: MemoryChain
) -> None:
    key = SigningKey.generate()
    receipt = await _anchor(pool, chain, key).anchor(BATCH)
    tx = chain.included[receipt.ref]
    assert receipt.kind == "cosmos" and receipt.height == tx.height
    assert AnchorMemo.decode(tx.memo) == AnchorMemo(3, 1, BATCH.merkle_root, 5)
    # A restarted adapter finds the stored transaction and broadcasts nothing.
    again = _anchor(pool, chain, key)
    assert await again.anchor(BATCH) == receipt == await again.lookup(1)
    assert [c for c, _ in chain.exchanges].count("broadcast") == 1


async def test_sequence_mismatch_rereads_the_account(
    pool: asyncpg.Pool, chain: MemoryChain
) -> None:
    key = SigningKey.generate()
    anchor = _anchor(pool, chain, key)
    await anchor.anchor(BATCH)
    # Someone else used the account meanwhile: the cached sequence is stale.
    address = next(iter(chain.accounts))
    info = chain.accounts[address]
    chain.accounts[address] = type(info)(info.number, info.sequence + 2)
    receipt = await anchor.anchor(SealedBatch(2, "ef" * 32, 9))
    assert chain.included[receipt.ref].memo == AnchorMemo(3, 2, "ef" * 32, 9).encode()
    assert ("broadcast", "code 32") in chain.exchanges
    assert len(chain.included) == 2


async def test_inclusion_timeout_resends_the_same_bytes(
    pool: asyncpg.Pool, chain: MemoryChain
) -> None:
    chain.auto_blocks = False
    anchor = _anchor(pool, chain, SigningKey.generate(), RetryPolicy(0.03, 0.01, retries=0))
    with pytest.raises(InclusionTimeout):
        await anchor.anchor(BATCH)
    chain.produce_block()
    receipt = await anchor.anchor(BATCH)
    assert list(chain.included) == [receipt.ref]


async def test_node_outage_is_retried_with_backoff(pool: asyncpg.Pool, chain: MemoryChain) -> None:
    chain.fail_next("broadcast", ChainUnavailable("connection refused"))
    chain.fail_next("get_tx", ChainUnavailable("502"))
    receipt = await _anchor(pool, chain, SigningKey.generate()).anchor(BATCH)
    assert receipt.ref in chain.included


async def test_rejection_is_raised_and_signed_again_next_time(
    pool: asyncpg.Pool, chain: MemoryChain
) -> None:
    key = SigningKey.generate()
    anchor = _anchor(pool, chain, key)
    chain.fail_next("broadcast", 13)  # insufficient fee
    with pytest.raises(ChainRejected) as rejected:
        await anchor.anchor(BATCH)
    assert rejected.value.code == 13
    assert await anchor.lookup(1) is None
    receipt = await anchor.anchor(BATCH)
    assert await anchor.lookup(1) == receipt


async def test_memo_limit_is_checked_at_start(pool: asyncpg.Pool, chain: MemoryChain) -> None:
    chain.memo_limit = 32
    with pytest.raises(RuntimeError, match="memo limit"):
        await _anchor(pool, chain, SigningKey.generate()).start()
