"""The handler's flow without NATS or the model: commit once per epoch, keep slow checks
alive, sign and publish the verdict."""

from __future__ import annotations

import asyncio

from attesta_common.events import CheckResults, InferenceFinished, InferenceRequested
from attesta_common.genesis import Genesis
from attesta_common.subjects import seed_committed, verdict
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_validator.admission import admit_finished
from attesta_validator.handlers import ValidatorHandlers
from attesta_validator.reputation import ReputationBook
from attesta_validator.selection import SeedCommitments
from attesta_validator.settings import ValidatorSettings
from validator_records import (
    MODEL,
    TINY_GENERATION,
    RecordingRecords,
    make_finished,
    make_request,
)


async def test_slow_check_is_kept_alive_and_verdict_published(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    key = devnet_keys.validators[0]
    records = RecordingRecords()
    keepalives = 0

    async def keepalive() -> None:
        nonlocal keepalives
        keepalives += 1

    async def slow_check(
        request: InferenceRequested, finished: InferenceFinished, signer: str
    ) -> tuple[CheckResults, list[str]]:
        await asyncio.sleep(0.35)
        checks = CheckResults(
            structure_ok=True,
            replay_reported_ok=True,
            replay_own_ok=True,
            distance=1e-6,
            distance_threshold=MODEL.distance_threshold,
        )
        return checks, []

    handlers = ValidatorHandlers(
        key=key,
        genesis=genesis,
        model=MODEL,
        records=records,
        settings=ValidatorSettings(ack_wait_s=0.3),
        run_check=slow_check,
        reputations=ReputationBook(),
        commitments=SeedCommitments(),
    )
    executor = devnet_keys.executors[0]
    for inference_id in ("inf-a", "inf-b"):
        request = make_request(
            devnet_keys.gateway,
            executor.address,
            temperature=0.0,
            top_p=1.0,
            seed=1,
            inference_id=inference_id,
        )
        record = make_finished(executor, request, TINY_GENERATION)
        published = await handlers.validate(admit_finished(record.to_bytes(), genesis), keepalive)
        assert published is not None and published.body["passed"] is True

    assert keepalives >= 4
    subjects = [subject for subject, _ in records.published]
    # The epoch's seed is committed once, before the first verdict.
    assert subjects == [seed_committed(key.address), verdict(key.address), verdict(key.address)]
    assert all(record.signer == key.address for _, record in records.published)
