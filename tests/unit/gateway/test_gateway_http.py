"""Body limit middleware, error shapes, auth/body dependency order, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from attesta_gateway.accounts import KEY_PREFIX, hash_key, new_api_key
from attesta_gateway.auth import read_body
from attesta_gateway.errors import OpenAIError, install_error_handlers
from attesta_gateway.middleware import BodySizeLimitMiddleware
from attesta_gateway.protocol import CompletionRequest
from attesta_gateway.settings import GatewaySettings
from fastapi import Depends, FastAPI, Request


def _app(max_bytes: int = 100) -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_bytes)
    install_error_handlers(app)

    async def teapot() -> None:
        raise OpenAIError(418, "short and stout", code="teapot", headers={"X-T": "1"})

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await read_body(request, CompletionRequest)
        return {"prompt": body.prompt}

    @app.post("/teapot", dependencies=[Depends(teapot)])
    async def tea() -> None:
        return None

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    return app


async def _client(max_bytes: int = 100) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(max_bytes), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_body_limit_declared_and_streamed() -> None:
    async with await _client() as client:
        ok = await client.post("/echo", json={"model": "m", "prompt": "hi"})
        declared = await client.post("/echo", content=b"x" * 101)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"x" * 30

        streamed = await client.post("/echo", content=body())
    assert ok.status_code == 200 and ok.json() == {"prompt": "hi"}
    assert declared.status_code == 413 and streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "request_too_large"


async def test_error_shapes() -> None:
    async with await _client() as client:
        invalid = await client.post("/echo", content=b"\xff\xfe")
        truncated = await client.post("/echo", content=b'{"model": "m", "prompt": ')
        not_object = await client.post("/echo", json=["m", "hi"])
        surrogate = await client.post("/echo", content=b'{"model":"m","prompt":"\\ud800"}')
        utf16 = await client.post("/echo", content='{"model":"m","prompt":"hi"}'.encode("utf-16"))
        bom = await client.post("/echo", content=b'\xef\xbb\xbf{"model":"m","prompt":"hi"}')
        schema = await client.post("/echo", json={"model": "m", "prompt": 5})
        teapot = await client.post("/teapot")
        missing = await client.get("/nowhere")
        boom = await client.get("/boom")
    async with await _client(max_bytes=100_000) as client:
        # Nested past the parser's limit: refused as JSON, not a server error.
        deep = await client.post("/echo", content=b'{"prompt":' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert bom.status_code == 200 and bom.json() == {"prompt": "hi"}
    for bad in (invalid, truncated, not_object, deep, surrogate, utf16):
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    assert "not valid JSON" in truncated.json()["error"]["message"]
    assert "must be a JSON object" in not_object.json()["error"]["message"]
    assert schema.status_code == 422
    assert schema.json()["error"]["param"].startswith("prompt")
    assert teapot.status_code == 418 and teapot.headers["x-t"] == "1"
    assert teapot.json() == {
        "error": {
            "message": "short and stout",
            "type": "invalid_request_error",
            "param": None,
            "code": "teapot",
        }
    }
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert boom.status_code == 500 and boom.json()["error"]["type"] == "server_error"


def test_api_keys_are_random_and_hashed() -> None:
    key = new_api_key()
    assert key.startswith(KEY_PREFIX) and len(key) == len(KEY_PREFIX) + 40
    assert key != new_api_key()
    assert len(hash_key(key)) == 64 and hash_key(key) != key


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTESTA_PORT", "9001")
    monkeypatch.setenv("ATTESTA_REQUEST_TIMEOUT_S", "10")
    monkeypatch.setenv("ATTESTA_FIRST_TOKEN_TIMEOUT_S", "30")
    monkeypatch.setenv("NATS_URL", "nats://elsewhere:4222")
    settings = GatewaySettings()
    assert settings.port == 9001 and settings.nats_url == "nats://elsewhere:4222"
    assert settings.first_token_timeout_s == 10  # clamped to the deadline
    assert settings.max_body_bytes == 1 << 20 and settings.heartbeat_ttl_s == 3.0
    assert str(settings.key_path).endswith("gateway.key")
