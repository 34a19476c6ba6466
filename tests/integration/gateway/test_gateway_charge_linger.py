"""Charges that linger (`charge_linger_s`, attesta_gateway.charges) never turn a request
the balance covers into a 402, and are written on shutdown."""

from __future__ import annotations

from typing import Any

from gateway_harness import StartGateway


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}


async def test_a_402_waits_for_the_refunds_of_lingering_charges(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(["ok"], spare_reservations=False, charge_linger_s=1.0)
    api_key, account = await gateway.new_key(balance=100_000)
    async with gateway.client(api_key) as client:
        first = (await client.post("/v1/chat/completions", json=_chat(gateway.model))).json()
        row = await gateway.reservation(first["id"])
        assert row is not None and row["state"] == "held"  # its charge is lingering
        reserved = row["reserved"]
        # One short of a second reservation, unless the first one's refund is counted.
        await gateway.pool.execute(
            "UPDATE accounts SET balance = $2 WHERE id = $1", account, reserved - 1
        )
        second = await client.post("/v1/chat/completions", json=_chat(gateway.model))
        assert second.status_code == 200, second.text

    charged = await gateway.reservation(first["id"])
    assert charged is not None and charged["state"] == "charged"
    assert 0 < charged["charged"] < reserved
    assert gateway.stop is not None
    await gateway.stop()
    # Shutdown wrote the second charge rather than leave its money held.
    last = await gateway.reservation(second.json()["id"])
    assert last is not None and last["state"] == "charged"
    balance = await gateway.pool.fetchval("SELECT balance FROM accounts WHERE id=$1", account)
    assert balance == reserved - 1 + (reserved - charged["charged"]) - last["charged"]
