"""The `end` event: the finished record's own bytes inside an ordinary stream event, which
the gateway reads back as the very record that was signed; and the order in which the
record and the events leave."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from attesta_common.envelope import SignedRecord, record_from_json_object, sign_event
from attesta_common.events import InferenceFinished, InferenceRequested
from attesta_common.stream import StreamEvent
from attesta_common.subjects import gateway_stream_prefix, inference_finished, token_stream
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.port import GenerationSpec
from attesta_executor.outbox import Outbox, PublishFailed
from attesta_executor.records import finished_record
from executor_fakes import FakeEngine
from test_executor_records import request


class RecordingConnection:
    def __init__(self, sent: list[tuple[str, bytes]] | None = None) -> None:
        self.sent: list[tuple[str, bytes]] = [] if sent is None else sent

    async def publish(self, subject: str, payload: bytes) -> None:
        self.sent.append((subject, payload))


class RecordingBroker:
    def __init__(self, sent: list[tuple[str, bytes]] | None = None) -> None:
        self.connection = RecordingConnection(sent)


class RecordingSink:
    """JetStream as the outbox sees it: a publish returns once the record is acked, here
    once `acked` is set; acked records go into the same timeline as the stream events."""

    def __init__(self, sent: list[tuple[str, bytes]], *, fail: bool = False) -> None:
        self.sent = sent
        self.acked = asyncio.Event()
        self.acked.set()
        self._fail = fail

    async def publish(self, subject: str, record: SignedRecord, **_: object) -> None:
        await self.acked.wait()
        if self._fail:
            raise ConnectionResetError("the broker went away")
        self.sent.append((subject, record.to_bytes()))


async def test_end_carries_the_signed_record_byte_for_byte(devnet_keys: DevnetKeys) -> None:
    key = devnet_keys.executors[0]
    asked = request(key.address)
    asked_record = sign_event(asked, devnet_keys.gateway)
    generation = FakeEngine().generate(GenerationSpec([1, 1], 0.9, 1.0, 4, 5))
    record = finished_record(key, asked_record, asked, generation)
    broker = RecordingBroker()
    outbox = Outbox(broker, key, records=None)  # type: ignore[arg-type]

    await outbox.end(asked, record)

    ((subject, payload),) = broker.connection.sent
    assert subject == token_stream(asked.inference_id)
    event = StreamEvent.model_validate_json(payload)
    finished = InferenceFinished.model_validate(record.body)
    assert (event.type, event.inference_id) == ("end", asked.inference_id)
    assert (event.finish_reason, event.usage) == (finished.finish_reason, finished.usage)
    assert event.record is not None
    carried = record_from_json_object(event.record)
    assert carried.to_bytes() == record.to_bytes() and carried.hash == record.hash
    # The same event as encoding it whole, field for field.
    whole: dict[str, Any] = StreamEvent(
        type="end",
        inference_id=asked.inference_id,
        finish_reason=finished.finish_reason,
        usage=finished.usage,
        record=record.model_dump(mode="json"),
    ).model_dump(mode="json")
    assert event.model_dump(mode="json") == whole


def _delivery(
    devnet_keys: DevnetKeys, *, early: bool, fail: bool = False, busy: bool = False
) -> tuple[Outbox, RecordingSink, InferenceRequested, SignedRecord]:
    key = devnet_keys.executors[0]
    asked = request(key.address, end_before_stored=early)
    asked_record = sign_event(asked, devnet_keys.gateway)
    generation = FakeEngine().generate(GenerationSpec([1, 1], 0.9, 1.0, 4, 5))
    record = finished_record(key, asked_record, asked, generation)
    sent: list[tuple[str, bytes]] = []
    sink = RecordingSink(sent, fail=fail)
    outbox = Outbox(RecordingBroker(sent), key, records=sink, early_end=lambda: not busy)  # type: ignore[arg-type]
    return outbox, sink, asked, record


def _order(sink: RecordingSink) -> list[str]:
    return [
        "record" if "inference.finished" in subject else StreamEvent.model_validate_json(data).type
        for subject, data in sink.sent
    ]


@pytest.mark.parametrize("early", [False, True])
async def test_the_client_side_hears_of_a_record_only_once_it_is_stored(
    devnet_keys: DevnetKeys, early: bool
) -> None:
    outbox, sink, asked, record = _delivery(devnet_keys, early=early)
    sink.acked.clear()
    delivering = asyncio.create_task(outbox.deliver(asked, record))
    await asyncio.sleep(0.05)
    # JetStream has not acked: nothing but an early, unstored `end` may be out.
    assert _order(sink) == (["end"] if early else [])
    sink.acked.set()
    await delivering

    assert {subject for subject, _ in sink.sent} == {
        token_stream(asked.inference_id),
        inference_finished(asked.executor),
    }
    if early:
        assert _order(sink) == ["end", "record", "stored"]
        assert StreamEvent.model_validate_json(sink.sent[0][1]).stored is False
    else:
        assert _order(sink) == ["record", "end"]
        assert StreamEvent.model_validate_json(sink.sent[1][1]).stored is True


async def test_a_busy_executor_sends_one_end_once_the_record_is_stored(
    devnet_keys: DevnetKeys,
) -> None:
    # The gateway asked for an early `end`, but the executor's cores are full: the answer
    # waits for the store anyway, so one `end`, marked stored, replaces `end` + `stored`.
    outbox, sink, asked, record = _delivery(devnet_keys, early=True, busy=True)
    sink.acked.clear()
    delivering = asyncio.create_task(outbox.deliver(asked, record))
    await asyncio.sleep(0.05)
    assert _order(sink) == []
    sink.acked.set()
    await delivering
    assert _order(sink) == ["record", "end"]
    assert StreamEvent.model_validate_json(sink.sent[1][1]).stored is True


@pytest.mark.parametrize("early", [False, True])
async def test_a_record_jetstream_did_not_take_is_never_called_stored(
    devnet_keys: DevnetKeys, early: bool
) -> None:
    outbox, sink, asked, record = _delivery(devnet_keys, early=early, fail=True)
    with pytest.raises(PublishFailed):
        await outbox.deliver(asked, record)
    # The request is redelivered; the gateway never heard its answer was stored.
    assert _order(sink) == (["end"] if early else [])
    if early:
        assert StreamEvent.model_validate_json(sink.sent[0][1]).stored is False


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (None, None),
        (gateway_stream_prefix("g1"), gateway_stream_prefix("g1")),
        # Only a gateway's stream prefix is honoured: a request must not steer the events
        # onto another subject, such as a record stream's.
        ("attesta.records.inference.finished.x", None),
        (gateway_stream_prefix("g1") + ".deeper", None),
        ("attesta.stream.gateway.", None),
    ],
)
async def test_events_go_under_the_prefix_the_request_names(
    devnet_keys: DevnetKeys, prefix: str | None, expected: str | None
) -> None:
    outbox, sink, asked, record = _delivery(devnet_keys, early=True)
    asked = asked.model_copy(update={"stream_prefix": prefix})
    await outbox.deliver(asked, record)
    await outbox.failed(sign_event(asked, devnet_keys.gateway), asked, "engine_error", "x")
    events = [subject for subject, _ in sink.sent if "records" not in subject]
    assert events == [token_stream(asked.inference_id, expected)] * 3
