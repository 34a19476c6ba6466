"""Bearer API-key authentication and the JSON body parsing that must follow it.

Both are FastAPI dependencies, declared in this order on every route, so a request with
a bad key gets 401 before its body is even read, and a malformed body gets 400 (not
FastAPI's 422) before the schema is checked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from attesta_gateway.accounts import Account
from attesta_gateway.context import GatewayContext
from attesta_gateway.errors import OpenAIError, from_validation_error

M = TypeVar("M", bound=BaseModel)


def _invalid_key(message: str) -> OpenAIError:
    return OpenAIError(
        401,
        message,
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def authenticate(request: Request) -> Account:
    header = request.headers.get("authorization", "")
    scheme, _, api_key = header.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise _invalid_key("missing API key: send 'Authorization: Bearer <key>'")
    ctx: GatewayContext = request.app.state.ctx
    account = await ctx.keys.account(ctx.pool, api_key.strip())
    if account is None:
        raise _invalid_key("incorrect API key provided")
    return account


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that parses the body as JSON, then validates it against `model`."""

    async def parse(request: Request) -> M:
        raw = await request.body()
        try:
            data: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OpenAIError(
                400, f"request body is not valid JSON: {exc}", code="invalid_json"
            ) from exc
        if not isinstance(data, dict):
            raise OpenAIError(400, "request body must be a JSON object", code="invalid_json")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(list(exc.errors())) from exc

    return parse
