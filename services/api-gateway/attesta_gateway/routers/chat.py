"""POST /v1/chat/completions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from attesta_gateway.accounts import Account
from attesta_gateway.auth import authenticate, json_body
from attesta_gateway.protocol import ChatCompletionRequest
from attesta_gateway.serving_chat import OpenAIServingChat

router = APIRouter()


# async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def serving(request: Request) -> OpenAIServingChat:
    handler: OpenAIServingChat = request.app.state.serving_chat
    return handler


@router.post("/v1/chat/completions")
async def create_chat_completion(
    # Order matters: FastAPI resolves dependencies in declaration order, so the key is
    # checked before the body is read.
    account: Annotated[Account, Depends(authenticate)],
    body: Annotated[ChatCompletionRequest, Depends(json_body(ChatCompletionRequest))],
    handler: Annotated[OpenAIServingChat, Depends(serving)],
) -> Response:
    return await handler.create(body, account)
