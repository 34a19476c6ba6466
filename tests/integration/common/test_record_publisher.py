"""Records reach JetStream through nats-py: stored once under their hash, with the kind
and the trace context in the headers, a copy acked as stored, and a record no stream
takes refused loudly."""

from __future__ import annotations

import nats
import nats.js.errors
import pytest
from attesta_common.broker import KIND_HEADER, MSG_ID_HEADER, ensure_streams, make_broker
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import ValidatorSeedCommitted
from attesta_common.keys import SigningKey
from attesta_common.record_publisher import RecordPublisher
from attesta_common.subjects import RECORDS_STREAM, seed_committed
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

KEY = SigningKey.generate()
SUBJECT = seed_committed(KEY.address)


def _record() -> SignedRecord:
    return sign_event(
        ValidatorSeedCommitted(validator=KEY.address, epoch=3, seed_hash="ab" * 32), KEY
    )


async def test_stored_once_with_headers_and_a_producer_span(nats_url: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    broker = make_broker(nats_url, provider)
    await broker.connect()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        record = _record()
        publisher = RecordPublisher(broker, provider)
        await publisher.publish(SUBJECT, record)
        await publisher.publish(SUBJECT, record)  # a copy: acked, not stored again
        info = await js.stream_info(RECORDS_STREAM)
        assert info.state.messages == 1
        stored = await js.get_last_msg(RECORDS_STREAM, SUBJECT)
        assert stored.data == record.to_bytes()
        headers = stored.headers or {}
        assert headers[MSG_ID_HEADER] == record.hash
        assert headers[KIND_HEADER] == record.kind
        (span, _) = exporter.get_finished_spans()
        assert span.kind == SpanKind.PRODUCER and span.name == f"{SUBJECT} publish"
        # The consumer continues the trace from the W3C header.
        assert headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
    finally:
        await nc.close()
        await broker.stop()


async def test_a_subject_no_stream_takes_is_refused(nats_url: str) -> None:
    broker = make_broker(nats_url)
    await broker.connect()
    try:
        with pytest.raises(nats.js.errors.NoStreamResponseError):
            await RecordPublisher(broker).publish("attesta.nowhere", _record(), timeout=2)
    finally:
        await broker.stop()
