"""Over real NATS with the real model: another validator's failed verdict makes this
validator re-check an inference it was not drawn for; its seed is revealed after the epoch."""

from __future__ import annotations

import time

import pytest
from attesta_common.envelope import sign_event
from attesta_common.events import (
    CheckResults,
    EpochSettled,
    ParticipantSettlement,
    ValidationVerdict,
)
from attesta_common.roles import Role
from attesta_common.subjects import (
    EPOCH_SETTLED,
    inference_finished,
    seed_committed,
    seed_revealed,
    verdict,
)
from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
from attesta_engine.reference import ReferenceEngine
from attesta_validator.selection import decide, seed_commitment, validator_seed
from test_validator_service import (
    eventually,
    jetstream,
    publish,
    records_on,
    running_validator,
    verdicts_by_inference,
)
from validator_records import Generations, make_finished, make_request

pytestmark = pytest.mark.model


async def test_failed_verdict_is_rechecked_and_seed_revealed(
    nats_url: str, devnet_keys: DevnetKeys, engine: ReferenceEngine, generations: Generations
) -> None:
    # Epochs of 2 s from a minute ago: epoch 1 is long over, its reveal due at once.
    genesis = build_genesis(
        devnet_keys,
        epoch_seconds=2.0,
        settle_grace_seconds=0.5,
        genesis_time_ms=int(time.time() * 1000) - 60_000,
    )
    me, accuser = devnet_keys.validators
    executor = devnet_keys.executors[0]
    seed = validator_seed(me, genesis, 1)
    skipped_id = next(
        f"inf-{i}"
        for i in range(1000)
        if not decide(
            genesis,
            validator=me.address,
            executor=executor.address,
            reputation=100,
            seed=seed,
            inference_id=f"inf-{i}",
        ).check
    )
    request = make_request(
        devnet_keys.gateway,
        executor.address,
        temperature=0.0,
        top_p=1.0,
        seed=11,
        inference_id=skipped_id,
        epoch=1,
    )
    finished = make_finished(executor, request, generations.greedy)
    settled = sign_event(
        EpochSettled(
            epoch=0,
            cutoff_seq=0,
            previous_settlement_hash=None,
            inference_count=0,
            participants=[
                ParticipantSettlement(
                    address=executor.address, roles=[Role.EXECUTOR], weight=100, reputation=100
                )
            ],
            refunds=[],
            reward_pool=0,
        ),
        devnet_keys.settler,
    )
    accusation = sign_event(
        ValidationVerdict(
            inference_id=skipped_id,
            epoch=1,
            executor=executor.address,
            validator=accuser.address,
            finished_hash=finished.hash,
            passed=False,
            checks=CheckResults(structure_ok=True, replay_reported_ok=False),
            reasons=["replay mismatch"],
        ),
        accuser,
    )
    async with jetstream(nats_url) as js:
        await publish(js, EPOCH_SETTLED, settled)
        async with running_validator(nats_url, genesis, me, engine):
            await publish(js, inference_finished(executor.address), finished)

            async def committed() -> bool:
                return bool(await records_on(js, seed_committed(me.address)))

            await eventually(committed, "the seed commitment")
            assert skipped_id not in await verdicts_by_inference(js, me.address)
            await publish(js, verdict(accuser.address), accusation)

            async def rechecked() -> bool:
                return skipped_id in await verdicts_by_inference(js, me.address)

            async def revealed() -> bool:
                return bool(await records_on(js, seed_revealed(me.address)))

            await eventually(rechecked, "the dispute re-check")
            await eventually(revealed, "the seed reveal")
            [recheck] = (await verdicts_by_inference(js, me.address))[skipped_id]
            reveals = await records_on(js, seed_revealed(me.address))
            [commit] = await records_on(js, seed_committed(me.address))

    body = ValidationVerdict.model_validate(recheck.body)
    assert body.dispute and body.passed and body.finished_hash == finished.hash
    assert {r.body["epoch"] for r in reveals} == {1}
    assert seed_commitment(bytes.fromhex(reveals[0].body["seed"])) == commit.body["seed_hash"]
