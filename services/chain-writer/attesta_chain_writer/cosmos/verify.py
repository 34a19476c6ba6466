"""Checking a proof of a Cosmos-anchored record against the chain itself.

The proof names the anchoring transaction (`anchor_ref`) and its height; the chain's
copy of that transaction must be executed, at that height, and carry a memo that names
the proof's batch, root and size. The audit path is then checked as for any proof.
"""

from __future__ import annotations

from attesta_common.genesis import Genesis
from attesta_common.ledger_proof import InclusionProof, verify_proof

from attesta_chain_writer.cosmos.anchor import COSMOS_KIND
from attesta_chain_writer.cosmos.chain_port import ChainClient, ChainError
from attesta_chain_writer.cosmos.memo import AnchorMemo, MemoError


def verify_on_chain(proof: InclusionProof, genesis: Genesis, chain: ChainClient) -> list[str]:
    """Every reason the proof fails against the chain; empty means anchored there."""
    if proof.anchor_kind != COSMOS_KIND:
        return [f"the proof is anchored by {proof.anchor_kind!r}, not on a Cosmos chain"]
    try:
        tx = chain.get_tx(proof.anchor_ref)
    except ChainError as exc:
        return [f"cannot fetch transaction {proof.anchor_ref}: {exc}"]
    if tx is None:
        return [f"transaction {proof.anchor_ref} is not on the chain"]
    problems = []
    if tx.code != 0:
        problems.append(f"transaction failed on chain with code {tx.code}")
    if tx.height != proof.anchor_height:
        problems.append(f"transaction is at height {tx.height}, not {proof.anchor_height}")
    try:
        memo = AnchorMemo.decode(tx.memo)
    except MemoError as exc:
        problems.append(str(exc))
    else:
        if memo.merkle_root != proof.merkle_root or memo.leaf_count != proof.tree_size:
            problems.append("transaction memo does not anchor this root")
        if memo.batch_seq != proof.batch_seq:
            problems.append("transaction memo anchors another batch")
    return problems + verify_proof(proof, genesis)
