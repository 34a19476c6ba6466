"""Bearer API-key authentication and the JSON body parsing that must follow it.

Routes call them in this order, so a request with a bad key gets 401 before its body is
even read, and a malformed body gets 400 (not FastAPI's 422) before the schema is checked.
`authenticate` is also a FastAPI dependency of the routes that read no body.
"""

from __future__ import annotations

import codecs
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


async def read_body(request: Request, model: type[M]) -> M:
    """The body as `model`: pydantic parses the bytes itself, with no dict in between (a
    tenth of the gateway's time per request went to FastAPI's dependency machinery, the
    JSON module and validating the dict, docs/overhead.md). Not JSON, or not an object:
    400; a field that does not fit: 422 naming it."""
    raw = await request.body()
    if raw.startswith(codecs.BOM_UTF8):
        # RFC 8259 lets a parser ignore one; the JSON module did, pydantic does not.
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first: Any = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            raise OpenAIError(
                400, f"request body is not valid JSON: {first.get('msg')}", code="invalid_json"
            ) from exc
        if first.get("type") == "model_type" and not first.get("loc"):
            raise OpenAIError(
                400, "request body must be a JSON object", code="invalid_json"
            ) from exc
        raise from_validation_error(list(errors)) from exc
