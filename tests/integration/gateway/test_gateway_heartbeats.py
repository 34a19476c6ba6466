"""Only signed heartbeats of genesis executors, about themselves, make an executor live."""

from __future__ import annotations

import asyncio
import json

import nats
from attesta_common.keys import SigningKey
from attesta_common.subjects import EXECUTOR_HEARTBEAT
from gateway_fakes import eventually, heartbeat_record
from gateway_harness import StartGateway


async def test_forged_and_foreign_heartbeats_are_ignored(
    start_gateway: StartGateway, nats_url: str
) -> None:
    gateway = await start_gateway([])
    models = [gateway.model]
    executor = gateway.keys.executors[0]
    tampered = json.loads(heartbeat_record(executor, models).to_bytes())
    tampered["body"]["in_flight"] = 3  # the signature no longer covers the body
    impostors = [
        json.dumps(tampered, sort_keys=True, separators=(",", ":")).encode(),
        heartbeat_record(gateway.keys.validators[0], models).to_bytes(),  # not an executor
        heartbeat_record(SigningKey.generate(), models).to_bytes(),  # not in genesis
        # A genesis executor vouching for another one.
        heartbeat_record(executor, models, executor=gateway.keys.executors[1].address).to_bytes(),
        b"not a record",
    ]
    nc = await nats.connect(nats_url)
    try:
        for data in impostors:
            await nc.publish(EXECUTOR_HEARTBEAT, data)
        await nc.flush()
        await asyncio.sleep(0.3)
        assert gateway.ctx.registry.live() == []

        # The control: the same executor's genuine heartbeat is accepted.
        await nc.publish(EXECUTOR_HEARTBEAT, heartbeat_record(executor, models).to_bytes())
        await nc.flush()
        await eventually(lambda: bool(gateway.ctx.registry.live()), timeout=2)
    finally:
        await nc.close()
    assert [s.address for s in gateway.ctx.registry.live(gateway.model)] == [executor.address]


async def test_executor_goes_stale_after_the_ttl(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok"], heartbeat_ttl_s=0.5)
    (executor,) = gateway.executors
    assert gateway.ctx.registry.candidates(gateway.model) == [(executor.address, 100)]
    await executor.stop()
    await asyncio.sleep(0.8)
    assert gateway.ctx.registry.candidates(gateway.model) == []
