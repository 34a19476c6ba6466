"""Dispute re-checks and seed reveals in the handler, without NATS or the model."""

from __future__ import annotations

from typing import Any

from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import (
    CheckResults,
    EpochSettled,
    InferenceFinished,
    InferenceRequested,
    ParticipantSettlement,
    ValidationVerdict,
)
from attesta_common.genesis import Genesis
from attesta_common.roles import Role
from attesta_common.subjects import seed_committed, seed_revealed, verdict
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_validator.admission import admit_finished
from attesta_validator.handlers import ValidatorHandlers
from attesta_validator.reputation import ReputationBook
from attesta_validator.selection import (
    SeedCommitments,
    decide,
    reveal_at_ms,
    seed_commitment,
    validator_seed,
)
from attesta_validator.settings import ValidatorSettings
from validator_records import (
    MODEL,
    TINY_GENERATION,
    RecordingRecords,
    make_finished,
    make_request,
)


async def _no_keepalive() -> None:
    return None


async def _passing_check(
    request: InferenceRequested, finished: InferenceFinished, signer: str
) -> tuple[CheckResults, list[str]]:
    checks = CheckResults(
        structure_ok=True,
        replay_reported_ok=True,
        replay_own_ok=True,
        distance=1e-6,
        distance_threshold=MODEL.distance_threshold,
    )
    return checks, []


def _handlers(keys: DevnetKeys, genesis: Genesis, records: RecordingRecords) -> ValidatorHandlers:
    book = ReputationBook()
    # Executor 0 trusted as of epoch 0 settled: inferences of epoch 1 are rarely drawn.
    book.apply(
        EpochSettled(
            epoch=0,
            cutoff_seq=0,
            previous_settlement_hash=None,
            inference_count=0,
            participants=[
                ParticipantSettlement(
                    address=keys.executors[0].address,
                    roles=[Role.EXECUTOR],
                    weight=100,
                    reputation=100,
                )
            ],
            refunds=[],
            reward_pool=0,
        )
    )
    return ValidatorHandlers(
        key=keys.validators[0],
        genesis=genesis,
        model=MODEL,
        records=records,
        settings=ValidatorSettings(),
        run_check=_passing_check,
        reputations=book,
        commitments=SeedCommitments(),
    )


def _skipped_finished(keys: DevnetKeys, genesis: Genesis, start: int = 0) -> SignedRecord:
    seed = validator_seed(keys.validators[0], genesis, 1)
    executor = keys.executors[0]
    for i in range(start, start + 1000):
        inference_id = f"inf-{i}"
        if not decide(
            genesis,
            validator=keys.validators[0].address,
            executor=executor.address,
            reputation=100,
            seed=seed,
            inference_id=inference_id,
        ).check:
            request = make_request(
                keys.gateway,
                executor.address,
                temperature=0.0,
                top_p=1.0,
                seed=1,
                inference_id=inference_id,
                epoch=1,
            )
            return make_finished(executor, request, TINY_GENERATION)
    raise AssertionError("no skipped inference found")


def _failed_verdict(keys: DevnetKeys, finished: SignedRecord) -> tuple[SignedRecord, Any]:
    accuser = keys.validators[1]
    event = ValidationVerdict(
        inference_id=finished.body["inference_id"],
        epoch=1,
        executor=finished.body["executor"],
        validator=accuser.address,
        finished_hash=finished.hash,
        passed=False,
        checks=CheckResults(structure_ok=True, replay_reported_ok=False),
        reasons=["replay mismatch"],
    )
    return sign_event(event, accuser), event


async def test_failed_verdict_triggers_a_dispute_recheck_once(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    records = RecordingRecords()
    handlers = _handlers(devnet_keys, genesis, records)
    me = devnet_keys.validators[0].address
    finished = _skipped_finished(devnet_keys, genesis)
    assert (
        await handlers.validate(admit_finished(finished.to_bytes(), genesis), _no_keepalive) is None
    )
    record, event = _failed_verdict(devnet_keys, finished)

    recheck = await handlers.dispute(record, event, _no_keepalive)
    assert recheck is not None
    body = ValidationVerdict.model_validate(recheck.body)
    assert body.dispute and body.passed and body.finished_hash == finished.hash
    # Judged once: the same accusation again, or the record again, changes nothing.
    assert await handlers.dispute(record, event, _no_keepalive) is None
    assert (
        await handlers.validate(admit_finished(finished.to_bytes(), genesis), _no_keepalive) is None
    )
    # Own verdicts and passing verdicts start no dispute.
    assert [s for s, _ in records.published] == [seed_committed(me), verdict(me)]


async def test_dispute_before_the_record_is_seen_checks_it_on_arrival(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    records = RecordingRecords()
    handlers = _handlers(devnet_keys, genesis, records)
    finished = _skipped_finished(devnet_keys, genesis)
    record, event = _failed_verdict(devnet_keys, finished)
    assert await handlers.dispute(record, event, _no_keepalive) is None
    recheck = await handlers.validate(admit_finished(finished.to_bytes(), genesis), _no_keepalive)
    assert recheck is not None and recheck.body["dispute"] is True


async def test_seed_revealed_only_after_the_epoch(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    records = RecordingRecords()
    handlers = _handlers(devnet_keys, genesis, records)
    key = devnet_keys.validators[0]
    finished = _skipped_finished(devnet_keys, genesis)
    await handlers.validate(admit_finished(finished.to_bytes(), genesis), _no_keepalive)
    due = reveal_at_ms(genesis, 1)
    assert await handlers.reveal_due(due - 1) == []
    [reveal] = await handlers.reveal_due(due)
    assert records.published[-1][0] == seed_revealed(key.address)
    seed = bytes.fromhex(reveal.body["seed"])
    assert seed == validator_seed(key, genesis, 1)
    commit = next(r for s, r in records.published if s == seed_committed(key.address))
    assert commit.body["seed_hash"] == seed_commitment(seed)
    assert await handlers.reveal_due(due + 10_000) == []  # once
