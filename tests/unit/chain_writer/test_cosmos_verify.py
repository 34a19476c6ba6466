"""A record's proof checked end to end against the transaction that anchored its batch."""

from __future__ import annotations

import hashlib

import asyncpg
from attesta_chain_writer.cosmos.anchor import CosmosAnchor, RetryPolicy
from attesta_chain_writer.cosmos.chain_port import ChainTx
from attesta_chain_writer.cosmos.memo import AnchorMemo
from attesta_chain_writer.cosmos.memory_chain import MemoryChain
from attesta_chain_writer.cosmos.signer import AnchorSigner, FeePolicy
from attesta_chain_writer.cosmos.verify import verify_on_chain
from attesta_chain_writer.pending import PendingRecord, add_pending
from attesta_chain_writer.proofs import load_proof
from attesta_chain_writer.sealing import mark_anchored, seal_batch
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys


async def test_proof_verifies_against_the_chain(
    pool: asyncpg.Pool, devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(5)]
    await add_pending(
        pool, [PendingRecord(h, "ValidationVerdict", i) for i, h in enumerate(hashes)]
    )
    batch = await seal_batch(pool, 10)
    assert batch is not None
    chain = MemoryChain(chain_id=genesis.chain_id)
    signer = AnchorSigner(
        chain, devnet_keys.chain_writer.cosmpy_key, "attesta", FeePolicy("stake", 0, 100_000)
    )
    anchor = CosmosAnchor(pool, chain, signer, lambda: 0, RetryPolicy(1.0, 0.01, 1, 0.0))
    await mark_anchored(pool, batch, await anchor.anchor(batch))

    proof = await load_proof(pool, hashes[3])
    assert proof is not None and proof.block is None and proof.anchor_kind == "cosmos"
    assert verify_on_chain(proof, genesis, chain) == []

    tx = chain.included[proof.anchor_ref]
    other = AnchorMemo(0, batch.batch_seq, "00" * 32, batch.leaf_count).encode()
    chain.included[proof.anchor_ref] = ChainTx(tx.tx_hash, tx.height, 0, other)
    assert "transaction memo does not anchor this root" in verify_on_chain(proof, genesis, chain)
    del chain.included[proof.anchor_ref]
    assert verify_on_chain(proof, genesis, chain) == [
        f"transaction {proof.anchor_ref} is not on the chain"
    ]
    tampered = proof.model_copy(update={"leaf_index": 2})
    assert verify_on_chain(tampered, genesis, chain)
