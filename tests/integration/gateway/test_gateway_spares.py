"""Spare reservations (attesta_gateway.spares): an account's next escrow held in advance,
taken by its next request, and given back when idle, unfit, short or shutting down; never
money lost or a 402 that the balance alone would not give."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import asyncpg
from attesta_common.envelope import parse_record
from attesta_common.subjects import RECORDS_STREAM, inference_requested
from gateway_fakes import eventually
from gateway_harness import Gateway, StartGateway

BALANCE = 100_000


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}


async def _rows(gateway: Gateway, account: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await gateway.pool.fetch(
        "SELECT * FROM reservations WHERE account_id = $1 ORDER BY created_at", account
    )
    return rows


async def _spare(gateway: Gateway, account: str, requests: set[str]) -> asyncpg.Record:
    """The account's held reservation that no request of the test named."""
    async with asyncio.timeout(5):
        while True:
            rows = await _rows(gateway, account)
            spares = [r for r in rows if r["inference_id"] not in requests and r["state"] == "held"]
            if spares:
                (spare,) = spares
                return spare
            await asyncio.sleep(0.02)


async def _plain_balance(gateway: Gateway, account: str) -> int:
    """The balance as stored: unlike `Gateway.balance`, spares stay where they are."""
    return int(await gateway.pool.fetchval("SELECT balance FROM accounts WHERE id=$1", account))


@dataclass
class AfterOne:
    """A gateway after one answered request: its account, the answer, the spare held."""

    gateway: Gateway
    api_key: str
    account: str
    answer: dict[str, Any]
    spare: asyncpg.Record


async def _after_one(
    start_gateway: StartGateway, body: dict[str, Any] | None = None, **settings: Any
) -> AfterOne:
    gateway = await start_gateway(["ok"], **settings)
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        sent = _chat(gateway.model, **(body or {}))
        answer = (await client.post("/v1/chat/completions", json=sent)).json()
    spare = await _spare(gateway, account, {answer["id"]})
    return AfterOne(gateway, api_key, account, answer, spare)


async def test_next_request_takes_the_spare(start_gateway: StartGateway) -> None:
    one = await _after_one(start_gateway)
    gateway, account, first, spare = one.gateway, one.account, one.answer, one.spare
    (executor,) = gateway.executors
    async with gateway.client(one.api_key) as client:
        second = (await client.post("/v1/chat/completions", json=_chat(gateway.model))).json()

    assert second["id"] == spare["inference_id"] != first["id"]
    first_row = await gateway.wait_reservation(first["id"], "charged")
    second_row = await gateway.wait_reservation(second["id"], "charged")
    # Sized like the first request's escrow with the default headroom, and charged the same.
    assert second_row["reserved"] == spare["reserved"] == math.ceil(first_row["reserved"] * 1.5)
    assert second_row["charged"] == first_row["charged"] > 0
    # The record names the request's own need, as every request's (and a canary's) does:
    # the amount must not tell a request on a spare apart.
    assert executor.received[1][1].reserved == executor.received[0][1].reserved
    assert executor.received[1][1].reserved == first_row["reserved"]
    assert await gateway.balance(account) == BALANCE - 2 * first_row["charged"]


async def test_the_spare_is_reserved_once_the_request_is_stored(
    start_gateway: StartGateway,
) -> None:
    """After the request's publish is acknowledged, not before it: the spare's statement
    would otherwise go out ahead of the publish, on a sequential client's path."""
    one = await _after_one(start_gateway)
    (executor,) = one.gateway.executors
    js = one.gateway.ctx.broker.connection.jetstream()
    stored = await js.get_last_msg(RECORDS_STREAM, inference_requested(executor.address))
    assert (
        stored.data is not None
        and parse_record(stored.data).body["inference_id"] == (one.answer["id"])
    )
    # JetStream's clock and Postgres's are the host's.
    assert stored.time is not None and stored.time < one.spare["created_at"]


async def test_an_idle_spare_is_given_back(start_gateway: StartGateway) -> None:
    one = await _after_one(start_gateway, spare_idle_s=0.3)
    gateway, account, answer, spare = one.gateway, one.account, one.answer, one.spare
    row = await gateway.wait_reservation(spare["inference_id"], "released", timeout=5)
    assert row["charged"] == 0
    charged = (await gateway.wait_reservation(answer["id"], "charged"))["charged"]
    assert await _plain_balance(gateway, account) == BALANCE - charged


async def test_a_spare_never_turns_a_fitting_request_into_402(start_gateway: StartGateway) -> None:
    one = await _after_one(start_gateway)
    gateway, account, spare = one.gateway, one.account, one.spare
    async with gateway.client(one.api_key) as client:
        await gateway.wait_reservation(one.answer["id"], "charged")  # its refund is in
        # All the account has left is its chat spare; a completion has no spare of its own.
        await gateway.pool.execute("UPDATE accounts SET balance = 0 WHERE id = $1", account)
        fits = {"model": gateway.model, "prompt": "Hi", "max_tokens": 4}
        answered = await client.post("/v1/completions", json=fits)
        assert answered.status_code == 200, answered.text
        completion = answered.json()["id"]
        released = await gateway.reservation(spare["inference_id"])
        assert released is not None and released["state"] == "released"
        # Short of money: no new spare for the account (its charge refunds the rest).
        charged = (await gateway.wait_reservation(completion, "charged"))["charged"]
        held = [r for r in await _rows(gateway, account) if r["state"] == "held"]
        assert held == []
        assert await _plain_balance(gateway, account) == spare["reserved"] - charged

        # Too big even with every spare back: 402, and nothing stays held.
        too_big = fits | {"max_tokens": 100, "prompt": "Hi" * 500}
        refused = await client.post("/v1/completions", json=too_big)
    assert refused.status_code == 402
    assert [r for r in await _rows(gateway, account) if r["state"] == "held"] == []
    assert await _plain_balance(gateway, account) == spare["reserved"] - charged


async def test_a_spare_too_small_is_given_back_and_the_request_reserves(
    start_gateway: StartGateway,
) -> None:
    one = await _after_one(start_gateway, {"max_tokens": 2})
    gateway, small, spare = one.gateway, one.answer, one.spare
    async with gateway.client(one.api_key) as client:
        big = await client.post("/v1/chat/completions", json=_chat(gateway.model, max_tokens=64))
    assert big.status_code == 200
    assert big.json()["id"] not in (spare["inference_id"], small["id"])
    assert (await gateway.wait_reservation(spare["inference_id"], "released"))["charged"] == 0
    big_row = await gateway.wait_reservation(big.json()["id"], "charged")
    assert big_row["reserved"] > spare["reserved"]


async def test_shutdown_gives_the_spares_back(start_gateway: StartGateway) -> None:
    one = await _after_one(start_gateway)
    gateway, account, answer, spare = one.gateway, one.account, one.answer, one.spare
    assert gateway.stop is not None
    await gateway.stop()
    assert (await gateway.reservation(spare["inference_id"]))["state"] == "released"
    charged = (await gateway.reservation(answer["id"]))["charged"]
    assert await _plain_balance(gateway, account) == BALANCE - charged


async def test_no_spares_when_turned_off(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok"], spare_reservations=False)
    api_key, account = await gateway.new_key(balance=BALANCE)
    async with gateway.client(api_key) as client:
        ids = [
            (await client.post("/v1/chat/completions", json=_chat(gateway.model))).json()["id"]
            for _ in range(3)
        ]
    await asyncio.sleep(0.2)
    assert sorted(r["inference_id"] for r in await _rows(gateway, account)) == sorted(ids)


async def test_a_spare_in_use_gives_back_its_excess_before_a_402(
    start_gateway: StartGateway,
) -> None:
    """Two requests at once on an account whose balance covers both: one takes the spare,
    which holds more than it needs; the other finds the balance short until that excess
    comes back."""
    one = await _after_one(start_gateway, chunk_delay_s=0.3)
    gateway, account, spare = one.gateway, one.account, one.spare
    (executor,) = gateway.executors
    async with gateway.client(one.api_key) as client:
        need = (await gateway.wait_reservation(one.answer["id"], "charged"))["reserved"]
        # Free: half a request; with the spare back, one and a half: enough for two.
        await gateway.pool.execute(
            "UPDATE accounts SET balance = $2 WHERE id = $1", account, spare["reserved"] - need
        )
        taking = asyncio.create_task(client.post("/v1/chat/completions", json=_chat(gateway.model)))
        await eventually(lambda: len(executor.received) == 2)
        other = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        took = await taking
    assert took.status_code == 200 and took.json()["id"] == spare["inference_id"]
    assert other.status_code == 200, other.text
    # The spare was lowered to its request's need while that request ran.
    assert (await gateway.wait_reservation(spare["inference_id"], "charged"))["reserved"] == need
