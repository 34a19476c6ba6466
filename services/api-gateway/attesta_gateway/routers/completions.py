"""POST /v1/completions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from attesta_gateway.accounts import Account
from attesta_gateway.auth import authenticate, json_body
from attesta_gateway.protocol import CompletionRequest
from attesta_gateway.serving_completions import OpenAIServingCompletion

router = APIRouter()


# async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def serving(request: Request) -> OpenAIServingCompletion:
    handler: OpenAIServingCompletion = request.app.state.serving_completions
    return handler


@router.post("/v1/completions")
async def create_completion(
    # Key first, then body: see routers/chat.py.
    account: Annotated[Account, Depends(authenticate)],
    body: Annotated[CompletionRequest, Depends(json_body(CompletionRequest))],
    handler: Annotated[OpenAIServingCompletion, Depends(serving)],
) -> Response:
    return await handler.create(body, account)
