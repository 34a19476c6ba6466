"""GET /v1/ledger/proofs/{record_hash}: a record's inclusion proof, for offline checking.

Public: a proof reveals only hashes and the anchored root, and anyone holding a record
should be able to check it against the ledger.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from attesta_gateway.context import GatewayContext, ProofLoader
from attesta_gateway.errors import SERVER_ERROR, OpenAIError

router = APIRouter()


@router.get("/v1/ledger/proofs/{record_hash}")
async def get_proof(record_hash: str, request: Request) -> dict[str, Any]:
    ctx: GatewayContext = request.app.state.ctx
    proofs: ProofLoader | None = request.app.state.proofs
    if proofs is None:
        raise OpenAIError(
            503,
            "ledger proofs are not available on this gateway (attesta-chain-writer missing)",
            type=SERVER_ERROR,
            code="ledger_unavailable",
        )
    proof = await proofs(ctx.pool, record_hash.lower())
    if proof is None:
        raise OpenAIError(
            404,
            f"record {record_hash} is not anchored (unknown, or not yet in a sealed batch)",
            param="record_hash",
            code="not_found",
        )
    return proof.model_dump(mode="json")
