"""The validator in-process against a real NATS JetStream: records in, verdicts out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import nats
import pytest
from attesta_common.broker import ensure_streams, record_headers
from attesta_common.envelope import SignedRecord, parse_record, sign_event
from attesta_common.events import (
    EpochSettled,
    ParticipantSettlement,
    ValidationVerdict,
    ValidatorSeedCommitted,
)
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_common.subjects import (
    EPOCH_SETTLED,
    RECORDS_STREAM,
    inference_finished,
    seed_committed,
    verdict,
)
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.reference import ReferenceEngine
from attesta_validator.main import Validator, ValidatorConfigError
from attesta_validator.selection import decide, seed_commitment, validator_seed
from attesta_validator.settings import ValidatorSettings
from nats.js import JetStreamContext
from validator_records import Generations, make_finished, make_request

pytestmark = pytest.mark.model

WAIT_S = 30.0


@asynccontextmanager
async def jetstream(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        yield js
    finally:
        await nc.close()


@asynccontextmanager
async def running_validator(
    nats_url: str, genesis: Genesis, key: SigningKey, engine: ReferenceEngine
) -> AsyncIterator[Validator]:
    settings = ValidatorSettings(nats_url=nats_url, fetch_timeout_s=0.5, retry_delay_s=0.1)
    validator = Validator(settings, genesis=genesis, key=key, engine=engine)
    await validator.start()
    try:
        yield validator
    finally:
        await validator.stop()


async def publish(
    js: JetStreamContext, subject: str, record: SignedRecord, *, dedup: bool = True
) -> None:
    headers = record_headers(record) if dedup else None
    await js.publish(subject, record.to_bytes(), stream=RECORDS_STREAM, headers=headers)


async def records_on(js: JetStreamContext, subject: str) -> list[SignedRecord]:
    info = await js.stream_info(RECORDS_STREAM, subjects_filter=subject)
    count = (info.state.subjects or {}).get(subject, 0)
    records: list[SignedRecord] = []
    if count == 0:
        return records
    sub = await js.pull_subscribe(subject, stream=RECORDS_STREAM)
    try:
        while len(records) < count:
            for message in await sub.fetch(batch=count - len(records), timeout=2.0):
                records.append(parse_record(message.data))
    finally:
        await sub.unsubscribe()
    return records


async def eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def verdicts_by_inference(
    js: JetStreamContext, validator: str
) -> dict[str, list[SignedRecord]]:
    found: dict[str, list[SignedRecord]] = {}
    for record in await records_on(js, verdict(validator)):
        found.setdefault(str(record.body["inference_id"]), []).append(record)
    return found


def honest_pair(
    keys: DevnetKeys,
    generations: Generations,
    inference_id: str,
    executor: int = 0,
    epoch: int = 0,
) -> SignedRecord:
    key = keys.executors[executor]
    request = make_request(
        keys.gateway,
        key.address,
        temperature=0.0,
        top_p=1.0,
        seed=11,
        inference_id=inference_id,
        epoch=epoch,
    )
    return make_finished(key, request, generations.greedy)


def forged(keys: DevnetKeys, generations: Generations, inference_id: str) -> SignedRecord:
    # The sampled output passed off as the answer to a greedy request.
    key = keys.executors[0]
    request = make_request(
        keys.gateway, key.address, temperature=0.0, top_p=1.0, seed=11, inference_id=inference_id
    )
    return make_finished(key, request, generations.sampled)


async def test_verdicts_and_seed_commitment(
    nats_url: str,
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
    generations: Generations,
) -> None:
    key = devnet_keys.validators[0]
    honest = honest_pair(devnet_keys, generations, "inf-honest")
    cheat = forged(devnet_keys, generations, "inf-forged")
    subject = inference_finished(devnet_keys.executors[0].address)
    async with jetstream(nats_url) as js, running_validator(nats_url, genesis, key, engine):
        await publish(js, subject, honest)
        await publish(js, subject, cheat)

        async def both_judged() -> bool:
            return len(await verdicts_by_inference(js, key.address)) == 2

        await eventually(both_judged, "two verdicts")
        verdicts = await verdicts_by_inference(js, key.address)
        commits = await records_on(js, seed_committed(key.address))

    [passed_record] = verdicts["inf-honest"]
    assert passed_record.signer == key.address and passed_record.kind == "ValidationVerdict"
    passed_verdict = ValidationVerdict.model_validate(passed_record.body)
    assert passed_verdict.passed and passed_verdict.finished_hash == honest.hash
    assert passed_verdict.reasons == [] and passed_verdict.checks.replay_mismatches == 0
    failed = ValidationVerdict.model_validate(verdicts["inf-forged"][0].body)
    assert not failed.passed and failed.finished_hash == cheat.hash and failed.reasons

    [commit_record] = commits
    commit = ValidatorSeedCommitted.model_validate(commit_record.body)
    assert commit.epoch == 0 and commit.validator == key.address
    assert commit.seed_hash == seed_commitment(validator_seed(key, genesis, 0))


async def test_rejected_and_redelivered_records(
    nats_url: str,
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
    generations: Generations,
) -> None:
    key = devnet_keys.validators[0]
    executor = devnet_keys.executors[0]
    honest = honest_pair(devnet_keys, generations, "inf-twice")
    bad_signature = honest_pair(devnet_keys, generations, "inf-bad-sig").model_copy(
        update={"signature": "11" * 64}
    )
    # A validator key cannot claim work, even on a request addressed to it.
    impostor = devnet_keys.validators[1]
    request = make_request(
        devnet_keys.gateway,
        impostor.address,
        temperature=0.0,
        top_p=1.0,
        seed=11,
        inference_id="inf-impostor",
    )
    not_an_executor = make_finished(impostor, request, generations.greedy)
    barrier = honest_pair(devnet_keys, generations, "inf-barrier")
    async with jetstream(nats_url) as js, running_validator(nats_url, genesis, key, engine):
        await publish(js, inference_finished(executor.address), bad_signature)
        await publish(js, inference_finished(impostor.address), not_an_executor)
        await publish(js, inference_finished(executor.address), honest)
        # The same record again without its Msg-Id: the stream keeps both copies.
        await publish(js, inference_finished(executor.address), honest, dedup=False)
        await publish(js, inference_finished(executor.address), barrier)

        async def barrier_judged() -> bool:
            return "inf-barrier" in await verdicts_by_inference(js, key.address)

        await eventually(barrier_judged, "the barrier's verdict")
        verdicts = await verdicts_by_inference(js, key.address)
        finished_copies = await records_on(js, inference_finished(executor.address))

    assert sum(r.hash == honest.hash for r in finished_copies) == 2
    assert sorted(verdicts) == ["inf-barrier", "inf-twice"]
    assert len(verdicts["inf-twice"]) == 1


async def test_trusted_executor_is_sampled_not_checked(
    nats_url: str,
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
    generations: Generations,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = devnet_keys.validators[0]
    trusted, newcomer = devnet_keys.executors
    # Epoch 1 is decided with the reputations of settled epoch 0 (the newest before it).
    seed = validator_seed(key, genesis, 1)
    skipped_id = next(
        f"inf-{i}"
        for i in range(1000)
        if not decide(
            genesis,
            validator=key.address,
            executor=trusted.address,
            reputation=100,
            seed=seed,
            inference_id=f"inf-{i}",
        ).check
    )

    def settlement(epoch: int, reputations: dict[str, int]) -> SignedRecord:
        return sign_event(
            EpochSettled(
                epoch=epoch,
                cutoff_seq=0,
                previous_settlement_hash=None,
                inference_count=0,
                participants=[
                    ParticipantSettlement(
                        address=a, roles=[Role.EXECUTOR], weight=100, reputation=r
                    )
                    for a, r in reputations.items()
                ],
                refunds=[],
                reward_pool=0,
            ),
            devnet_keys.settler,
        )

    caplog.set_level(logging.INFO, logger="attesta_validator")
    async with jetstream(nats_url) as js:
        # Settled before the validator starts: it must know it before its first check.
        await publish(js, EPOCH_SETTLED, settlement(0, {trusted.address: 100}))
        async with running_validator(nats_url, genesis, key, engine):
            await publish(
                js,
                inference_finished(trusted.address),
                honest_pair(devnet_keys, generations, skipped_id, epoch=1),
            )
            await publish(
                js,
                inference_finished(newcomer.address),
                honest_pair(devnet_keys, generations, "inf-newcomer", executor=1),
            )

            async def newcomer_judged() -> bool:
                return "inf-newcomer" in await verdicts_by_inference(js, key.address)

            await eventually(newcomer_judged, "the newcomer's verdict")
            assert skipped_id not in await verdicts_by_inference(js, key.address)

            # A later settlement reaches the running validator too.
            await publish(js, EPOCH_SETTLED, settlement(1, {newcomer.address: 100}))

            async def settled_again() -> bool:
                return "settled epoch 1" in caplog.text

            await eventually(settled_again, "the second settlement")


async def test_a_non_validator_key_is_refused(
    genesis: Genesis, devnet_keys: DevnetKeys, engine: ReferenceEngine
) -> None:
    with pytest.raises(ValidatorConfigError, match="validator role"):
        Validator(ValidatorSettings(), genesis=genesis, key=devnet_keys.executors[0], engine=engine)
