"""Token streams read through the gateway's one shared subscription, for executors that
announce they send under a prefix; a subscription per inference for those that do not."""

from __future__ import annotations

import json
from typing import Any

from attesta_common.subjects import STREAM_PREFIX_FEATURE
from gateway_fakes import eventually
from gateway_harness import StartGateway

BALANCE = 1_000_000


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}


async def test_streams_under_the_gateway_prefix(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok"], features=[STREAM_PREFIX_FEATURE])
    (executor,) = gateway.executors
    router = gateway.ctx.streams
    assert router is not None
    api_key, _ = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        whole = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        streamed = await client.post("/v1/chat/completions", json=_chat(gateway.model, stream=True))
    assert whole.status_code == 200
    assert whole.json()["choices"][0]["message"]["content"] == "Hello world!"
    chunks = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert chunks[-1] == "[DONE]"
    text = "".join(
        json.loads(chunk)["choices"][0]["delta"].get("content") or "" for chunk in chunks[:-1]
    )
    assert text == "Hello world!"
    # Every request named the gateway's prefix, and once charged nothing is left routed.
    assert {request.stream_prefix for _, request in executor.received} == {router.prefix}
    await eventually(lambda: router.routed == 0)


async def test_old_and_new_executors_side_by_side(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok", "ok"])
    old, new = gateway.executors
    # Only the second announces the feature (its heartbeats are what the gateway reads).
    new.features = [STREAM_PREFIX_FEATURE]
    await eventually(lambda: gateway.ctx.registry.supports(new.address, STREAM_PREFIX_FEATURE))
    api_key, _ = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        for _ in range(40):
            response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
            assert response.status_code == 200, response.text
            if old.received and new.received:
                break
    assert old.received and new.received
    assert {request.stream_prefix for _, request in old.received} == {None}
    router = gateway.ctx.streams
    assert router is not None
    assert {request.stream_prefix for _, request in new.received} == {router.prefix}


async def test_failures_through_the_router_leave_nothing_routed(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(
        ["error", "silent"],
        features=[STREAM_PREFIX_FEATURE],
        request_timeout_s=1.0,
        deadline_grace_s=0.0,
    )
    router = gateway.ctx.streams
    assert router is not None
    api_key, _ = await gateway.new_key(balance=BALANCE)
    seen: set[int] = set()
    async with gateway.client(api_key) as client:
        for _ in range(30):
            response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
            seen.add(response.status_code)
            if seen >= {502, 504}:
                break
    # The executor's `error` arrived through the router; the silent one timed out.
    assert seen == {502, 504}
    await eventually(lambda: router.routed == 0)
