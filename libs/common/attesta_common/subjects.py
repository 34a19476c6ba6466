"""NATS subjects and JetStream streams, in one place.

Records (everything that is anchored and settled) live in one stream under
`attesta.records.>`; the chain-writer's own announcements live apart so they are not
anchored again. Token streams and heartbeats are core NATS: ephemeral by design.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORDS_STREAM = "ATTESTA_RECORDS"
RECORDS_ALL = "attesta.records.>"
LEDGER_STREAM = "ATTESTA_LEDGER"
LEDGER_ALL = "attesta.ledger.>"

INFERENCE_REQUESTED_ALL = "attesta.records.inference.requested.*"
INFERENCE_FINISHED_ALL = "attesta.records.inference.finished.*"
INFERENCE_FAILED_ALL = "attesta.records.inference.failed.*"
VERDICTS_ALL = "attesta.records.validation.verdict.*"
SEED_COMMITS_ALL = "attesta.records.validation.seed.*"
EPOCH_SETTLED = "attesta.records.epoch.settled"
BATCH_ANCHORED = "attesta.ledger.batch"
EXECUTOR_HEARTBEAT = "attesta.heartbeat.executor"


def inference_requested(executor: str) -> str:
    return f"attesta.records.inference.requested.{executor}"


def inference_finished(executor: str) -> str:
    return f"attesta.records.inference.finished.{executor}"


def inference_failed(executor: str) -> str:
    return f"attesta.records.inference.failed.{executor}"


def verdict(validator: str) -> str:
    return f"attesta.records.validation.verdict.{validator}"


def seed_committed(validator: str) -> str:
    return f"attesta.records.validation.seed.{validator}"


def seed_revealed(validator: str) -> str:
    return f"attesta.records.validation.reveal.{validator}"


SEED_REVEALS_ALL = "attesta.records.validation.reveal.*"


def canary_committed(gateway: str) -> str:
    return f"attesta.records.canary.commit.{gateway}"


def canary_revealed(gateway: str) -> str:
    return f"attesta.records.canary.reveal.{gateway}"


def token_stream(inference_id: str) -> str:
    return f"attesta.stream.{inference_id}"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    duplicate_window_s: float


STREAMS = (
    StreamSpec(RECORDS_STREAM, (RECORDS_ALL,), duplicate_window_s=600.0),
    StreamSpec(LEDGER_STREAM, (LEDGER_ALL,), duplicate_window_s=600.0),
)
