"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from attesta_gateway.auth import authenticate, read_body
from attesta_gateway.protocol import ChatCompletionRequest
from attesta_gateway.serving_chat import OpenAIServingChat

router = APIRouter()


@router.post("/v1/chat/completions")
async def create_chat_completion(request: Request) -> Response:
    # Called rather than declared as FastAPI dependencies: resolving them took more of the
    # gateway's time than the work they do (auth.read_body). Key first, then body.
    account = await authenticate(request)
    body = await read_body(request, ChatCompletionRequest)
    serving: OpenAIServingChat = request.app.state.serving_chat
    return await serving.create(body, account)
