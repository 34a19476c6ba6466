"""Inclusion proofs: built from the database, verified with genesis alone."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest
from attesta_chain_writer.local_ledger import LocalLedger
from attesta_chain_writer.pending import PendingRecord, add_pending
from attesta_chain_writer.proofs import load_proof
from attesta_chain_writer.sealing import mark_anchored, seal_batch
from attesta_common.genesis import Genesis
from attesta_common.ledger_proof import InclusionProof, verify_proof
from attesta_devnet.genesis_builder import DevnetKeys, build_genesis


def _hashes(tag: str, count: int) -> list[str]:
    return [hashlib.sha256(f"{tag} {i}".encode()).hexdigest() for i in range(count)]


async def _anchor_batch(pool: asyncpg.Pool, ledger: LocalLedger, hashes: list[str]) -> None:
    start = await pool.fetchval("SELECT COALESCE(max(stream_seq), 0) FROM ledger_pending") or 0
    await add_pending(
        pool,
        [PendingRecord(h, "ValidatorSeedCommitted", start + i + 1) for i, h in enumerate(hashes)],
    )
    batch = await seal_batch(pool, batch_size=len(hashes))
    assert batch is not None
    await mark_anchored(pool, batch, await ledger.anchor(batch))


@pytest.fixture
def ledger(pool: asyncpg.Pool, devnet_keys: DevnetKeys, genesis: Genesis) -> LocalLedger:
    return LocalLedger(pool, devnet_keys.chain_writer, genesis.chain_id)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16])
async def test_every_leaf_has_a_valid_proof(
    pool: asyncpg.Pool, ledger: LocalLedger, genesis: Genesis, size: int
) -> None:
    await _anchor_batch(pool, ledger, _hashes("warm-up", 2))
    hashes = _hashes("batch", size)
    await _anchor_batch(pool, ledger, hashes)

    for index, record_hash in enumerate(hashes):
        proof = await load_proof(pool, record_hash)
        assert proof is not None
        assert (proof.batch_seq, proof.leaf_index, proof.tree_size) == (2, index, size)
        assert proof.block is not None and proof.block.header.height == 2
        assert (proof.anchor_kind, proof.anchor_ref) == ("local", proof.block.block_hash)
        assert verify_proof(proof, genesis) == []


async def test_proof_from_a_connection_matches_the_pool(
    pool: asyncpg.Pool, ledger: LocalLedger
) -> None:
    hashes = _hashes("conn", 5)
    await _anchor_batch(pool, ledger, hashes)

    async with pool.acquire() as conn:
        from_conn = await load_proof(conn, hashes[3].upper())
    assert from_conn is not None
    assert from_conn == await load_proof(pool, hashes[3])


async def test_no_proof_before_anchoring(pool: asyncpg.Pool) -> None:
    hashes = _hashes("pending", 3)
    await add_pending(pool, [PendingRecord(h, "X", i + 1) for i, h in enumerate(hashes)])
    assert await load_proof(pool, hashes[0]) is None
    await seal_batch(pool, batch_size=10)  # sealed, not anchored
    assert await load_proof(pool, hashes[0]) is None
    assert await load_proof(pool, "00" * 32) is None


@pytest.fixture
async def proof(pool: asyncpg.Pool, ledger: LocalLedger) -> InclusionProof:
    hashes = _hashes("tamper", 6)
    await _anchor_batch(pool, ledger, hashes)
    found = await load_proof(pool, hashes[4])
    assert found is not None
    return found


def _flip(hex_text: str) -> str:
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


def test_tampered_proofs_fail(proof: InclusionProof, genesis: Genesis) -> None:
    assert proof.block is not None
    header = proof.block.header
    tampered = {
        "record": proof.model_copy(update={"record_hash": _flip(proof.record_hash)}),
        "path": proof.model_copy(
            update={"audit_path": [_flip(proof.audit_path[0]), *proof.audit_path[1:]]}
        ),
        "index": proof.model_copy(update={"leaf_index": proof.leaf_index - 1}),
        "root": proof.model_copy(update={"merkle_root": _flip(proof.merkle_root)}),
        "block root": proof.model_copy(
            update={
                "block": proof.block.model_copy(
                    update={"header": header.model_copy(update={"merkle_root": "ab" * 32})}
                )
            }
        ),
        "signature": proof.model_copy(
            update={
                "block": proof.block.model_copy(update={"signature": _flip(proof.block.signature)})
            }
        ),
        "no block": proof.model_copy(update={"block": None}),
    }
    for name, bad in tampered.items():
        assert verify_proof(bad, genesis) != [], name


def test_proof_fails_against_another_network(proof: InclusionProof) -> None:
    other = build_genesis(DevnetKeys.generate(executors=1, validators=1))
    assert "block signer is not a chain-writer in genesis" in verify_proof(proof, other)
