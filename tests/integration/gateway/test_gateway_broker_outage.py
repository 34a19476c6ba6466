"""The broker going away: requests get a clear 503 and lose nothing (escrow released),
/health says so, and the gateway serves again once NATS is back."""

from __future__ import annotations

import asyncio
import time

import pytest
from attesta_devnet.nats_server import NatsServer
from gateway_harness import StartGateway

CHAT = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}


async def test_broker_outage_is_503_then_recovers(
    start_gateway: StartGateway, nats_server: NatsServer | None
) -> None:
    if nats_server is None:
        pytest.skip("the outage needs a NATS server this test controls")
    gateway = await start_gateway(publish_timeout_s=1.0)
    api_key, account = await gateway.new_key(balance=100_000)
    async with gateway.client(api_key) as client:
        body = {"model": gateway.model, **CHAT}
        first = await client.post("/v1/chat/completions", json=body)
        assert first.status_code == 200
        # The answer goes out while its charge is written.
        await gateway.wait_reservation(first.json()["id"], "charged")
        before = await gateway.balance(account)

        nats_server.stop()
        during = await client.post("/v1/chat/completions", json=body)
        assert during.status_code == 503, during.text
        assert during.json()["error"]["message"]
        assert (await client.get("/health")).status_code == 503
        assert await gateway.balance(account) == before  # the reservation was released

        nats_server.start()  # same port and data folder: JetStream state survives
        deadline = time.monotonic() + 30
        while (await client.get("/health")).status_code != 200:
            assert time.monotonic() < deadline, "gateway did not reconnect"
            await asyncio.sleep(0.2)
        while True:  # executors reconnect and heartbeat again
            after = await client.post("/v1/chat/completions", json=body)
            if after.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert after.status_code == 200, after.text
