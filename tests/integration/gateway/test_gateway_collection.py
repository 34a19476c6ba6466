"""An `end` sent while its record was still on the way to JetStream: checked at once,
answered only on `stored`, and released like any unanswered request otherwise."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import pytest
from gateway_harness import StartGateway

BALANCE = 100_000


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}]}


# The `end` as executors write it (its record's bytes spliced in) and encoded whole.
SPLICED = pytest.mark.parametrize("spliced", [True, False], ids=["spliced", "whole"])


@SPLICED
async def test_answer_waits_for_stored_then_charges(
    start_gateway: StartGateway, spliced: bool
) -> None:
    gateway = await start_gateway(["ok"])
    (executor,) = gateway.executors
    executor.after_early_end, executor.stored_delay_s = "stored", 0.5
    executor.spliced_end = spliced
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        answered_at = asyncio.get_running_loop().time()

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello world!"
    ((_, request),) = executor.received
    assert request.end_before_stored is True
    # Never before the executor said JetStream had the record.
    (stored_at,) = executor.stored_sent_at
    assert answered_at > stored_at
    row = await gateway.wait_reservation(request.inference_id, "charged")
    assert await gateway.balance(account) == BALANCE - row["charged"] > 0


@pytest.mark.parametrize(
    ("after", "status", "code"), [("silent", 504, "timeout"), ("error", 502, "broker_gone")]
)
async def test_no_stored_after_an_unstored_end_releases(
    start_gateway: StartGateway, after: Literal["silent", "error"], status: int, code: str
) -> None:
    gateway = await start_gateway(["ok"], request_timeout_s=1.0, deadline_grace_s=0.0)
    (executor,) = gateway.executors
    executor.after_early_end = after
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    await gateway.wait_reservation(executor.received[0][1].inference_id, "released")
    assert await gateway.balance(account) == BALANCE


@SPLICED
async def test_forged_unstored_end_is_refused_without_waiting(
    start_gateway: StartGateway, spliced: bool
) -> None:
    gateway = await start_gateway(["ok"])
    (executor,) = gateway.executors
    executor.after_early_end, executor.stored_delay_s = "stored", 3.0
    executor.spliced_end = spliced
    executor.forger = gateway.keys.executors[1]
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        elapsed = loop.time() - started

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_record"
    assert elapsed < 2.0
    await gateway.wait_reservation(executor.received[0][1].inference_id, "released")
    assert await gateway.balance(account) == BALANCE
