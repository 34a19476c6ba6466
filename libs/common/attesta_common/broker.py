"""The FastStream broker factory, stream declaration and record publishing."""

from __future__ import annotations

import logging

import nats.js.errors
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from opentelemetry.trace import TracerProvider

from attesta_common.envelope import SignedRecord
from attesta_common.subjects import STREAMS

MSG_ID_HEADER = "Nats-Msg-Id"
KIND_HEADER = "Attesta-Kind"


def make_broker(
    nats_url: str,
    tracer_provider: TracerProvider | None = None,
    *,
    message_log_level: int = logging.DEBUG,
) -> NatsBroker:
    # FastStream logs every message received and processed; at INFO that drowns the
    # service's own log on a busy node, so per-message lines default to DEBUG.
    return NatsBroker(
        nats_url,
        log_level=message_log_level,
        middlewares=[NatsTelemetryMiddleware(tracer_provider=tracer_provider)],
        # Keep reconnecting for as long as the process lives: the broker going away is an
        # outage to ride out, not a reason to exit.
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
    )


async def ensure_streams(js: JetStreamContext) -> None:
    """Create the streams, or bring an existing one's subjects and window up to date."""
    for spec in STREAMS:
        config = StreamConfig(
            name=spec.name,
            subjects=list(spec.subjects),
            duplicate_window=spec.duplicate_window_s,
            storage=StorageType.FILE,
        )
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)


def record_headers(record: SignedRecord) -> dict[str, str]:
    return {MSG_ID_HEADER: record.hash, KIND_HEADER: record.kind}
