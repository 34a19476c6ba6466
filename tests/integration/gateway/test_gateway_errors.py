"""Every refused request gets its status and OpenAI's error shape, and costs nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from gateway_harness import StartGateway


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}


async def test_bad_keys_get_401(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    async with gateway.client() as client:
        missing = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        malformed = await client.post("/v1/chat/completions", content=b"{not json")
    async with gateway.client("sk-attesta-" + "0" * 40) as client:
        wrong = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        models = await client.get("/v1/models")
    for response in (missing, malformed, wrong, models):
        assert response.status_code == 401
        assert _error(response)["code"] == "invalid_api_key"
    assert not any(e.received for e in gateway.executors)


async def test_malformed_json_schema_and_size(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, account = await gateway.new_key(balance=50_000)
    async with gateway.client(api_key) as client:
        malformed = await client.post(
            "/v1/chat/completions",
            content=b'{"model": ',
            headers={"content-type": "application/json"},
        )
        not_object = await client.post("/v1/chat/completions", json=[1, 2])
        schema = await client.post("/v1/chat/completions", json=_chat(gateway.model, temperature=5))
        no_messages = await client.post(
            "/v1/chat/completions", json={"model": gateway.model, "messages": []}
        )
        too_large = await client.post(
            "/v1/chat/completions", json=_chat(gateway.model, padding="x" * 20_000)
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 4096

        # No Content-Length (chunked): the middleware counts the bytes as they come.
        too_large_chunked = await client.post("/v1/chat/completions", content=chunks())

    assert malformed.status_code == 400 and _error(malformed)["code"] == "invalid_json"
    assert not_object.status_code == 400 and _error(not_object)["code"] == "invalid_json"
    assert schema.status_code == 422
    assert _error(schema)["param"] == "temperature"
    assert _error(schema)["type"] == "invalid_request_error"
    assert no_messages.status_code == 422 and _error(no_messages)["param"] == "messages"
    assert too_large.status_code == 413
    assert too_large_chunked.status_code == 413
    assert _error(too_large_chunked)["code"] == "request_too_large"
    assert await gateway.balance(account) == 50_000


async def test_limits_model_and_unsupported_parameters(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    spec = gateway.genesis.models[0]
    api_key, account = await gateway.new_key(balance=50_000)
    async with gateway.client(api_key) as client:

        async def chat(**extra: Any) -> httpx.Response:
            return await client.post("/v1/chat/completions", json=_chat(gateway.model, **extra))

        too_many = await chat(max_tokens=spec.max_output_tokens + 1)
        long_prompt = {"role": "user", "content": "x" * (spec.max_context_tokens - 100)}
        too_long = await client.post(
            "/v1/chat/completions",
            json={"model": gateway.model, "messages": [long_prompt], "max_tokens": 200},
        )
        unknown = await client.post("/v1/chat/completions", json=_chat("no-such-model"))
        n_two = await chat(n=2)
        penalty = await chat(presence_penalty=0.5)
        top_without = await chat(top_logprobs=2)
        top_too_many = await chat(logprobs=True, top_logprobs=spec.top_k + 1)
        image = await client.post(
            "/v1/chat/completions",
            json={
                "model": gateway.model,
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            },
        )
        echo = await client.post(
            "/v1/completions", json={"model": gateway.model, "prompt": "x", "echo": True}
        )
        two_prompts = await client.post(
            "/v1/completions", json={"model": gateway.model, "prompt": ["a", "b"]}
        )

    assert too_many.status_code == 400 and _error(too_many)["param"] == "max_tokens"
    assert too_long.status_code == 400
    assert _error(too_long)["code"] == "context_length_exceeded"
    assert unknown.status_code == 404 and _error(unknown)["code"] == "model_not_found"
    assert n_two.status_code == 400 and _error(n_two)["param"] == "n"
    assert penalty.status_code == 400 and "presence_penalty" in _error(penalty)["message"]
    assert top_without.status_code == 400
    assert top_too_many.status_code == 400 and _error(top_too_many)["param"] == "top_logprobs"
    assert image.status_code == 400 and _error(image)["param"] == "messages"
    assert echo.status_code == 400 and two_prompts.status_code == 400
    assert await gateway.balance(account) == 50_000
    assert not any(e.received for e in gateway.executors)
    assert await gateway.pool.fetchval("SELECT count(*) FROM reservations") == 0


async def test_insufficient_balance_is_402(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, account = await gateway.new_key(balance=10)
    async with gateway.client(api_key) as client:
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
    assert response.status_code == 402
    assert _error(response)["code"] == "insufficient_quota"
    assert await gateway.balance(account) == 10
    assert not any(e.received for e in gateway.executors)


async def test_no_live_executor_is_503_with_retry_after(start_gateway: StartGateway) -> None:
    gateway = await start_gateway([])
    api_key, account = await gateway.new_key(balance=50_000)
    async with gateway.client(api_key) as client:
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        models = await client.get("/v1/models")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert _error(response)["code"] == "no_executor_available"
    assert await gateway.balance(account) == 50_000
    assert models.json() == {"object": "list", "data": []}


async def test_unknown_route_uses_the_error_shape(start_gateway: StartGateway) -> None:
    gateway = await start_gateway([])
    async with gateway.client() as client:
        response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
