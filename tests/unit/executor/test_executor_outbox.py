"""The `end` event: the finished record's own bytes inside an ordinary stream event, which
the gateway reads back as the very record that was signed."""

from __future__ import annotations

from typing import Any

from attesta_common.envelope import record_from_json_object, sign_event
from attesta_common.events import InferenceFinished
from attesta_common.stream import StreamEvent
from attesta_common.subjects import token_stream
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.port import GenerationSpec
from attesta_executor.outbox import Outbox
from attesta_executor.records import finished_record
from executor_fakes import FakeEngine
from test_executor_records import request


class RecordingConnection:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes) -> None:
        self.sent.append((subject, payload))


class RecordingBroker:
    def __init__(self) -> None:
        self.connection = RecordingConnection()


async def test_end_carries_the_signed_record_byte_for_byte(devnet_keys: DevnetKeys) -> None:
    key = devnet_keys.executors[0]
    asked = request(key.address)
    asked_record = sign_event(asked, devnet_keys.gateway)
    generation = FakeEngine().generate(GenerationSpec([1, 1], 0.9, 1.0, 4, 5))
    record = finished_record(key, asked_record, asked, generation)
    broker = RecordingBroker()
    outbox = Outbox(broker, key, records=None)  # type: ignore[arg-type]

    await outbox.end(asked.inference_id, record)

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
