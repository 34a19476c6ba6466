"""The reservation's fate: charged on a verified end, released on anything else, and
charged even when the client is gone."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from attesta_common.pricing import inference_cost
from gateway_fakes import PROMPT_TOKENS, TOKENS
from gateway_harness import StartGateway

BALANCE = 100_000


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}


async def test_silent_executor_times_out_with_504_and_releases(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["silent"], request_timeout_s=1.0, deadline_grace_s=0.0)
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        started = time.monotonic()
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        elapsed = time.monotonic() - started
        streamed = await client.post("/v1/chat/completions", json=_chat(gateway.model, stream=True))

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    assert 0.9 <= elapsed < 3.0
    # A stream has already answered 200: the timeout arrives as an SSE error event.
    assert streamed.status_code == 200
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-2])["error"]["code"] == "timeout"
    assert events[-1] == "[DONE]"

    (executor,) = gateway.executors
    assert len(executor.received) == 2
    for _, request in executor.received:
        row = await gateway.wait_reservation(request.inference_id, "released")
        assert row["charged"] == 0
        assert request.deadline_ms - request.requested_at_ms == 1000
    assert await gateway.balance(account) == BALANCE


async def test_executor_error_releases(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["error"])
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "engine_failed"
    (executor,) = gateway.executors
    await gateway.wait_reservation(executor.received[0][1].inference_id, "released")
    assert await gateway.balance(account) == BALANCE


async def test_record_signed_by_another_executor_is_refused(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok"])
    (executor,) = gateway.executors
    # A genesis executor, but not the one drawn: its signature must not be charged for.
    executor.forger = gateway.keys.executors[1]
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_record"
    await gateway.wait_reservation(executor.received[0][1].inference_id, "released")
    assert await gateway.balance(account) == BALANCE


async def test_client_disconnect_mid_stream_is_still_charged(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok"], chunk_delay_s=0.3)
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with (
        gateway.client(api_key) as client,
        client.stream(
            "POST", "/v1/chat/completions", json=_chat(gateway.model, stream=True)
        ) as response,
    ):
        assert response.status_code == 200
        inference_id = response.headers["x-attesta-inference-id"]
        async for line in response.aiter_lines():
            if line.startswith("data: ") and '"content":"Hello"' in line:
                break  # leave with two tokens and the end still to come
    # The connection is closed now; the collection task carries on.
    held = await gateway.reservation(inference_id)
    assert held is not None and held["state"] == "held"
    row = await gateway.wait_reservation(inference_id, "charged")
    cost = inference_cost(gateway.genesis, PROMPT_TOKENS, len(TOKENS))
    assert row["charged"] == cost
    assert await gateway.balance(account) == BALANCE - cost
    assert not gateway.app.state.inference_tasks


async def test_concurrent_requests_are_each_charged_once(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        responses = await asyncio.gather(
            *(
                client.post("/v1/chat/completions", json=_chat(gateway.model, max_tokens=8))
                for _ in range(12)
            )
        )
    assert [r.status_code for r in responses] == [200] * 12
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 12
    cost = inference_cost(gateway.genesis, PROMPT_TOKENS, len(TOKENS))
    # The answers go out while their charges are written.
    for inference_id in ids:
        await gateway.wait_reservation(inference_id, "charged")
    assert await gateway.balance(account) == BALANCE - 12 * cost
    rows = await gateway.pool.fetch("SELECT inference_id, state, charged FROM reservations")
    charged = [(row["state"], row["charged"]) for row in rows if row["inference_id"] in ids]
    assert charged == [("charged", cost)] * 12
    # Anything else was a spare, given back whole.
    assert {(row["state"], row["charged"]) for row in rows if row["inference_id"] not in ids} <= {
        ("released", 0)
    }
    assert sum(len(e.received) for e in gateway.executors) == 12
