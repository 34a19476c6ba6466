"""What the projector refuses to project, and the lock that keeps one settler projecting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from attesta_common import subjects
from attesta_common.broker import ensure_streams
from attesta_common.envelope import sign_event
from attesta_common.events import EpochSettled, ValidationVerdict
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_settler.main import Settler
from nats.js import JetStreamContext
from settler_records import (
    FUTURE_EPOCH,
    SETTLED_EPOCH,
    caught_up,
    finished,
    last_seq,
    position,
    publish,
    requested,
    short_epoch_genesis,
    verdict,
)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    yield js
    await nc.close()


@pytest.fixture
def short_genesis(devnet_keys: DevnetKeys) -> Genesis:
    return short_epoch_genesis(devnet_keys)


def _settler(nats_url: str, database_url: str, genesis: Genesis, keys: DevnetKeys) -> Settler:
    return Settler(
        nats_url=nats_url,
        database_url=database_url,
        genesis=genesis,
        key=keys.settler,
        interval_s=0.1,
    )


async def test_forged_and_misattributed_records_are_not_projected(
    nats_url: str,
    database_url: str,
    devnet_keys: DevnetKeys,
    short_genesis: Genesis,
    js: JetStreamContext,
) -> None:
    keys = devnet_keys
    ex0, ex1 = keys.executors
    # A far-off epoch: no genuine settlement can occur while the forged one is checked.
    good = requested(keys.gateway, "inf-good", ex0, epoch=FUTURE_EPOCH)
    tampered = requested(keys.gateway, "inf-forged", ex0)
    flipped = ("0" if tampered.signature[0] != "0" else "1") + tampered.signature[1:]
    forged = tampered.model_copy(update={"signature": flipped})
    wrong_role = requested(ex0, "inf-by-executor", ex0)  # only the gateway may request
    stolen = finished(good, ex1, 5, 5)  # ex1 was not drawn for this inference
    genuine = finished(good, ex0, 5, 5)
    settlement_by_gateway = sign_event(
        EpochSettled(
            epoch=SETTLED_EPOCH,
            cutoff_seq=1,
            previous_settlement_hash=None,
            inference_count=0,
            participants=[],
            refunds=[],
            reward_pool=0,
        ),
        keys.gateway,
    )
    # Validator 1 signs a vote in validator 0's name: valid signature, no standing.
    ballot_stuffing = sign_event(
        ValidationVerdict.model_validate(verdict(genuine, keys.validators[0], False).body),
        keys.validators[1],
    )

    await publish(js, subjects.inference_requested(ex0.address), forged)
    await publish(js, subjects.inference_requested(ex0.address), wrong_role)
    await publish(js, subjects.inference_requested(ex0.address), good)
    await publish(js, subjects.inference_finished(ex1.address), stolen)
    await publish(js, subjects.EPOCH_SETTLED, settlement_by_gateway)
    await js.publish(subjects.inference_requested(ex0.address), b'{"kind": "nonsense"}')

    settler = _settler(nats_url, database_url, short_genesis, keys)
    await settler.start()
    try:
        await caught_up(settler.pool, js)
        pool: asyncpg.Pool = settler.pool
        rows = await pool.fetch("SELECT inference_id, status, executor FROM inferences")
        assert [tuple(r) for r in rows] == [("inf-good", "requested", ex0.address)]
        assert await pool.fetchval("SELECT count(*) FROM verdicts") == 0
        assert await pool.fetchval("SELECT count(*) FROM epoch_settlements") == 0
        assert await position(pool) == await last_seq(js) == 6

        # The drawn executor's own result is accepted afterwards.
        await publish(js, subjects.inference_finished(ex0.address), genuine)
        await caught_up(pool, js)
        row = await pool.fetchrow(
            "SELECT status, finished_hash, cost, receipt FROM inferences "
            "WHERE inference_id = 'inf-good'"
        )
        assert (row["status"], row["finished_hash"], row["cost"]) == ("finished", genuine.hash, 10)
        assert '"completion_tokens": 5' in row["receipt"]

        honest_vote = verdict(genuine, keys.validators[0], True)
        await publish(js, subjects.verdict(keys.validators[1].address), ballot_stuffing)
        await publish(js, subjects.verdict(keys.validators[0].address), honest_vote)
        await caught_up(pool, js)
        votes = await pool.fetch("SELECT record_hash, validator, passed FROM verdicts")
        assert [tuple(v) for v in votes] == [(honest_vote.hash, keys.validators[0].address, True)]
    finally:
        await settler.stop()


async def test_a_second_settler_waits_for_the_projection_lock(
    nats_url: str, database_url: str, devnet_keys: DevnetKeys, short_genesis: Genesis
) -> None:
    first = _settler(nats_url, database_url, short_genesis, devnet_keys)
    second = _settler(nats_url, database_url, short_genesis, devnet_keys)
    await first.start()
    await asyncio.wait_for(first.wait_active(), 10)
    await second.start()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(second.wait_active(), 1.5)
        await first.stop()
        await asyncio.wait_for(second.wait_active(), 10)
    finally:
        await first.stop()
        await second.stop()


async def test_settler_key_must_hold_the_settler_role(
    devnet_keys: DevnetKeys, short_genesis: Genesis
) -> None:
    with pytest.raises(ValueError, match="settler role"):
        Settler(
            nats_url="nats://unused",
            database_url="postgresql://unused",
            genesis=short_genesis,
            key=devnet_keys.gateway,
        )
