"""NATS subjects and JetStream streams, in one place.

Records (everything that is anchored and settled) live in one stream under
`attesta.records.>`; the chain-writer's own announcements live apart so they are not
anchored again. Token streams and heartbeats are core NATS: ephemeral by design.
"""

from __future__ import annotations

import re
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


TOKEN_STREAMS = "attesta.stream"
# An executor that announces this in its heartbeats sends token-stream events under the
# prefix a request names (`InferenceRequested.stream_prefix`).
STREAM_PREFIX_FEATURE = "stream_prefix"
_GATEWAY_STREAMS = f"{TOKEN_STREAMS}.gateway."
_INSTANCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def token_stream(inference_id: str, prefix: str | None = None) -> str:
    """Where an inference's token-stream events go: under its gateway's prefix when the
    request names one (`gateway_stream_prefix`), else a subject of its own."""
    return f"{prefix or TOKEN_STREAMS}.{inference_id}"


def gateway_stream_prefix(instance: str) -> str:
    """The prefix one gateway process subscribes once (`<prefix>.*`) for the token streams
    of all its inferences, instead of a subscription per inference."""
    if not _INSTANCE.fullmatch(instance):
        raise ValueError(f"not a gateway instance name: {instance!r}")
    return _GATEWAY_STREAMS + instance


def is_gateway_stream_prefix(value: str) -> bool:
    """Only such prefixes are honoured: a request must not steer an executor's events onto
    another subject (a record stream's, say)."""
    return value.startswith(_GATEWAY_STREAMS) and bool(
        _INSTANCE.fullmatch(value[len(_GATEWAY_STREAMS) :])
    )


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    duplicate_window_s: float


STREAMS = (
    StreamSpec(RECORDS_STREAM, (RECORDS_ALL,), duplicate_window_s=600.0),
    StreamSpec(LEDGER_STREAM, (LEDGER_ALL,), duplicate_window_s=600.0),
)
