"""GET /v1/inferences/{id}: status, receipt, verdicts and anchor of one's own inference."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from attesta_gateway.accounts import Account
from attesta_gateway.auth import authenticate
from attesta_gateway.context import GatewayContext
from attesta_gateway.errors import OpenAIError
from attesta_gateway.inference_queries import load_inference

router = APIRouter()


@router.get("/v1/inferences/{inference_id}")
async def get_inference(
    inference_id: str, request: Request, account: Annotated[Account, Depends(authenticate)]
) -> dict[str, Any]:
    ctx: GatewayContext = request.app.state.ctx
    found = await load_inference(ctx.pool, account.id, inference_id, request.app.state.proofs)
    if found is None:
        # Someone else's inference reads as unknown: ids must not leak who asked what.
        raise OpenAIError(
            404,
            f"no inference {inference_id!r} (unknown, not yours, or not recorded yet)",
            param="inference_id",
            code="not_found",
        )
    return found
