"""Inclusion proofs for anchored records, as served by the gateway and `attesta-ledger`.

A proof is self-contained: the RFC 9162 audit path from the record hash to its batch's
root and, for the local ledger, the signed block anchoring that root, so
`attesta_common.ledger_proof.verify_proof` needs only the genesis document.
"""

from __future__ import annotations

import asyncpg
from attesta_common.ledger_proof import InclusionProof
from attesta_common.merkle import inclusion_proof

from attesta_chain_writer.local_ledger import LOCAL_KIND, load_block


async def load_proof(
    db: asyncpg.Pool | asyncpg.Connection, record_hash: str
) -> InclusionProof | None:
    """The proof for `record_hash`; None while the record is not in an anchored batch."""
    record_hash = record_hash.strip().lower()
    leaf = await db.fetchrow(
        """
        SELECT l.batch_seq, l.leaf_index, b.merkle_root, b.leaf_count,
               b.anchor_kind, b.anchor_ref, b.anchor_height
        FROM ledger_leaves l JOIN ledger_batches b USING (batch_seq)
        WHERE l.record_hash = $1 AND b.state = 'anchored'
        """,
        record_hash,
    )
    if leaf is None:
        return None
    leaves = await db.fetch(
        "SELECT record_hash FROM ledger_leaves WHERE batch_seq = $1 ORDER BY leaf_index",
        leaf["batch_seq"],
    )
    path = inclusion_proof(
        [bytes.fromhex(row["record_hash"]) for row in leaves], leaf["leaf_index"]
    )
    block = None
    if leaf["anchor_kind"] == LOCAL_KIND:
        block = await load_block(db, leaf["batch_seq"])
    return InclusionProof(
        record_hash=record_hash,
        batch_seq=leaf["batch_seq"],
        leaf_index=leaf["leaf_index"],
        tree_size=leaf["leaf_count"],
        audit_path=[node.hex() for node in path],
        merkle_root=leaf["merkle_root"],
        anchor_kind=leaf["anchor_kind"],
        anchor_ref=leaf["anchor_ref"],
        anchor_height=leaf["anchor_height"],
        block=block,
    )
