"""One epoch of traffic for the settler tests, and the settler wired to test NATS/Postgres."""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg
from attesta_common import subjects
from attesta_common.envelope import SignedRecord
from attesta_common.events import EpochSettled
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_settler.main import Settler
from nats.js import JetStreamContext
from settler_records import (
    FUTURE_EPOCH,
    SETTLED_EPOCH,
    caught_up,
    eventually,
    failed,
    finished,
    publish,
    requested,
    verdict,
)


@dataclass
class Net:
    keys: DevnetKeys
    genesis: Genesis
    js: JetStreamContext
    pool: asyncpg.Pool
    nats_url: str
    database_url: str

    def settler(self, *, ops_port: int | None = None) -> Settler:
        return Settler(
            nats_url=self.nats_url,
            database_url=self.database_url,
            genesis=self.genesis,
            key=self.keys.settler,
            interval_s=0.1,
            ops_port=ops_port,
        )


async def seed_escrow(pool: asyncpg.Pool) -> None:
    """The account after the gateway charged `inf-a`/`inf-b` and still holds `c`/`d`."""
    await pool.execute(
        "INSERT INTO accounts (id, name, key_hash, balance) VALUES ('acct-1', 'test', 'h', 1000)"
    )
    await pool.executemany(
        "INSERT INTO reservations (inference_id, account_id, reserved, charged, state) "
        "VALUES ($1, 'acct-1', $2, $3, $4)",
        [
            ("inf-a", 200, 30, "charged"),
            ("inf-b", 200, 50, "charged"),
            ("inf-c", 200, None, "held"),
            ("inf-d", 100, None, "held"),
            ("inf-f", 100, None, "held"),
        ],
    )


async def publish_epoch(net: Net) -> dict[str, SignedRecord]:
    """Epoch 3: a and c valid, b invalidated by both validators, d failed, e valid on the
    other executor; f belongs to a far-off epoch."""
    keys, js = net.keys, net.js
    ex0, ex1 = keys.executors
    v0, v1 = keys.validators
    records: dict[str, SignedRecord] = {}
    plan = [("inf-a", ex0, 10, 20), ("inf-b", ex0, 20, 30), ("inf-c", ex0, 15, 25)]
    plan.append(("inf-e", ex1, 5, 5))
    for inference_id, executor, prompt, completion in plan:
        request = requested(keys.gateway, inference_id, executor)
        records[inference_id] = finished(request, executor, prompt, completion)
        await publish(js, subjects.inference_requested(executor.address), request)
        await publish(js, subjects.inference_finished(executor.address), records[inference_id])
    request_d = requested(keys.gateway, "inf-d", ex1, reserved=100)
    await publish(js, subjects.inference_requested(ex1.address), request_d)
    await publish(js, subjects.inference_failed(ex1.address), failed(request_d, ex1))
    future = requested(keys.gateway, "inf-f", ex1, reserved=100, epoch=FUTURE_EPOCH)
    await publish(js, subjects.inference_requested(ex1.address), future)
    for inference_id, validator, passed in [
        ("inf-a", v0, True),
        ("inf-b", v0, False),
        ("inf-b", v1, False),
        ("inf-e", v1, True),
    ]:
        await publish(
            js,
            subjects.verdict(validator.address),
            verdict(records[inference_id], validator, passed),
        )
    return records


async def settlement(pool: asyncpg.Pool, epoch: int) -> EpochSettled | None:
    raw = await pool.fetchval("SELECT record FROM epoch_settlements WHERE epoch = $1", epoch)
    return EpochSettled.model_validate(json.loads(raw)["body"]) if raw else None


async def settled_epoch(net: Net) -> EpochSettled:
    async def present() -> bool:
        return await settlement(net.pool, SETTLED_EPOCH) is not None

    await eventually(present, what=f"epoch {SETTLED_EPOCH} to be settled")
    await caught_up(net.pool, net.js)
    settled = await settlement(net.pool, SETTLED_EPOCH)
    assert settled is not None
    return settled


async def settle_published_epoch(net: Net) -> EpochSettled:
    """Publish the epoch's traffic, run a settler until it is settled, stop it."""
    await publish_epoch(net)
    settler = net.settler()
    await settler.start()
    try:
        return await settled_epoch(net)
    finally:
        await settler.stop()
