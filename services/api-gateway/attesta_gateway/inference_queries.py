"""Read models for GET /v1/inferences/{id}: the settler's projection plus its anchor.

The gateway only reads these tables (the settler writes them from the record stream),
so what a client sees here is what the network recorded, not what the gateway believes.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from attesta_gateway.context import ProofLoader

_INFERENCE = """
SELECT inference_id, epoch, model, executor, status, requested_at_ms, request_hash,
       finished_hash, finish_reason, prompt_tokens, completion_tokens, cost, receipt,
       failure_code, failure_message
FROM inferences WHERE inference_id = $1 AND account = $2
"""

_VERDICTS = """
SELECT validator, passed, checks, reasons, record_hash
FROM verdicts WHERE inference_id = $1 ORDER BY validator
"""


def _json(value: Any) -> Any:
    # asyncpg returns jsonb as text unless a codec is registered on the pool.
    return json.loads(value) if isinstance(value, str) else value


async def load_inference(
    pool: asyncpg.Pool, account_id: str, inference_id: str, proofs: ProofLoader | None
) -> dict[str, Any] | None:
    """The inference as the owning account may see it; None if unknown or not theirs."""
    row = await pool.fetchrow(_INFERENCE, inference_id, account_id)
    if row is None:
        return None
    verdicts = await pool.fetch(_VERDICTS, inference_id)
    usage = None
    if row["prompt_tokens"] is not None and row["completion_tokens"] is not None:
        usage = {
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "total_tokens": row["prompt_tokens"] + row["completion_tokens"],
        }
    # The finished record anchors the whole inference (it embeds the signed request);
    # until there is one, the request record is what can be proven.
    anchored_hash = row["finished_hash"] or row["request_hash"]
    proof = await proofs(pool, anchored_hash) if proofs is not None else None
    failure = None
    if row["failure_code"] is not None:
        failure = {"code": row["failure_code"], "message": row["failure_message"]}
    return {
        "id": row["inference_id"],
        "object": "attesta.inference",
        "status": row["status"],
        "epoch": row["epoch"],
        "model": row["model"],
        "executor": row["executor"],
        "created": row["requested_at_ms"],
        "usage": usage,
        "cost": row["cost"],
        "finish_reason": row["finish_reason"],
        "failure": failure,
        "receipt": _json(row["receipt"]),
        "verdicts": [
            {
                "validator": verdict["validator"],
                "passed": verdict["passed"],
                "checks": _json(verdict["checks"]),
                "reasons": _json(verdict["reasons"]),
                "record_hash": verdict["record_hash"],
            }
            for verdict in verdicts
        ],
        "records": {"request": row["request_hash"], "finished": row["finished_hash"]},
        "anchor": proof.model_dump(mode="json") if proof is not None else None,
    }
