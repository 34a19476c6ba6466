"""The validator's Prometheus counters, moved by the handler's decisions (no NATS, no model).

The registry is process-global: every assertion compares a value before and after."""

from __future__ import annotations

import pytest
from attesta_common.events import CheckResults, InferenceFinished, InferenceRequested
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_validator.admission import admit_finished
from attesta_validator.handlers import ValidatorHandlers
from attesta_validator.reputation import ReputationBook
from attesta_validator.selection import SeedCommitments
from attesta_validator.settings import ValidatorSettings
from prometheus_client import REGISTRY
from test_validator_disputes import (
    _failed_verdict,
    _handlers,
    _no_keepalive,
    _skipped_finished,
)
from validator_records import (
    MODEL,
    TINY_GENERATION,
    RecordingRecords,
    make_finished,
    make_request,
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def checks(result: str) -> float:
    return value("attesta_validator_checks_total", result=result)


async def test_skipped_decision_then_dispute_recheck_are_counted(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    handlers = _handlers(devnet_keys, genesis, RecordingRecords())
    finished = _skipped_finished(devnet_keys, genesis)
    skipped, passed = checks("skipped"), checks("passed")
    disputes = value("attesta_validator_disputes_total")
    durations = value("attesta_validator_check_duration_seconds_count")

    assert (
        await handlers.validate(admit_finished(finished.to_bytes(), genesis), _no_keepalive) is None
    )
    assert checks("skipped") == skipped + 1 and checks("passed") == passed

    record, event = _failed_verdict(devnet_keys, finished)
    assert await handlers.dispute(record, event, _no_keepalive) is not None
    assert checks("passed") == passed + 1
    assert value("attesta_validator_disputes_total") == disputes + 1
    assert value("attesta_validator_check_duration_seconds_count") == durations + 1


async def test_failed_and_broken_checks_are_counted(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    outcomes: list[CheckResults | Exception] = [
        CheckResults(structure_ok=False, replay_reported_ok=False),
        RuntimeError("engine broke"),
    ]

    async def scripted(
        request: InferenceRequested, finished: InferenceFinished, signer: str
    ) -> tuple[CheckResults, list[str]]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome, ["bad structure"]

    handlers = ValidatorHandlers(
        key=devnet_keys.validators[0],
        genesis=genesis,
        model=MODEL,
        records=RecordingRecords(),
        settings=ValidatorSettings(),
        run_check=scripted,
        reputations=ReputationBook(),
        commitments=SeedCommitments(),
    )
    executor = devnet_keys.executors[0]  # no settlement, reputation 0: every one is checked
    failed, error = checks("failed"), checks("error")
    durations = value("attesta_validator_check_duration_seconds_count")
    for inference_id in ("inf-failed", "inf-error"):
        request = make_request(
            devnet_keys.gateway,
            executor.address,
            temperature=0.0,
            top_p=1.0,
            seed=1,
            inference_id=inference_id,
        )
        admitted = admit_finished(
            make_finished(executor, request, TINY_GENERATION).to_bytes(), genesis
        )
        if inference_id == "inf-error":
            with pytest.raises(RuntimeError):
                await handlers.validate(admitted, _no_keepalive)
        else:
            verdict = await handlers.validate(admitted, _no_keepalive)
            assert verdict is not None and verdict.body["passed"] is False

    assert checks("failed") == failed + 1 and checks("error") == error + 1
    assert value("attesta_validator_check_duration_seconds_count") == durations + 2
