"""Local-ledger blocks and record inclusion proofs, and their offline verification.

A block header names one Merkle batch and the previous block's hash; its hash is sha256
of its canonical JSON and the chain-writer signs that same canonical JSON. A proof
carries everything needed to check a record against an anchored root without a database.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from attesta_common.canonical import canonical_json, sha256_hex
from attesta_common.genesis import Genesis
from attesta_common.keys import address_of, verify
from attesta_common.merkle import verify_inclusion
from attesta_common.roles import Role

GENESIS_PREV_HASH = "0" * 64


class BlockHeader(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain_id: str
    height: int
    batch_seq: int
    merkle_root: str
    leaf_count: int
    prev_hash: str
    created_at_ms: int

    def signing_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    def hash(self) -> str:
        return sha256_hex(self.signing_bytes())


class LedgerBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    header: BlockHeader
    block_hash: str
    signer: str
    public_key: str
    signature: str


class InclusionProof(BaseModel):
    """Where a record sits in an anchored batch (RFC 9162 audit path, hex encoded)."""

    model_config = ConfigDict(frozen=True)

    record_hash: str
    batch_seq: int
    leaf_index: int
    tree_size: int
    audit_path: list[str]
    merkle_root: str
    anchor_kind: str
    anchor_ref: str
    anchor_height: int
    block: LedgerBlock | None = None


def verify_block(block: LedgerBlock, genesis: Genesis) -> list[str]:
    problems = []
    if block.header.hash() != block.block_hash:
        problems.append("block hash does not match its header")
    if address_of(block.public_key) != block.signer:
        problems.append("block signer does not match its public key")
    elif not genesis.has_role(block.signer, Role.CHAIN_WRITER):
        problems.append("block signer is not a chain-writer in genesis")
    if not verify(block.public_key, block.header.signing_bytes(), block.signature):
        problems.append("bad block signature")
    if block.header.chain_id != genesis.chain_id:
        problems.append("block belongs to another chain")
    return problems


def verify_proof(proof: InclusionProof, genesis: Genesis) -> list[str]:
    """Every reason the proof fails; an empty list means the record is anchored."""
    problems = []
    try:
        ok = verify_inclusion(
            bytes.fromhex(proof.record_hash),
            proof.leaf_index,
            proof.tree_size,
            [bytes.fromhex(h) for h in proof.audit_path],
            bytes.fromhex(proof.merkle_root),
        )
    except ValueError:
        ok = False
    if not ok:
        problems.append("audit path does not lead to the Merkle root")
    if proof.block is not None:
        problems += verify_block(proof.block, genesis)
        header = proof.block.header
        if header.merkle_root != proof.merkle_root or header.leaf_count != proof.tree_size:
            problems.append("block does not anchor this root")
        if header.batch_seq != proof.batch_seq:
            problems.append("block anchors another batch")
    elif proof.anchor_kind == "local":
        problems.append("local anchor without its block")
    return problems
