"""Everything an executor sends: signed records to JetStream, token-stream events on core
NATS. A broker failure surfaces as `PublishFailed`, so callers can tell it apart from a
failing engine: the request is then redelivered rather than answered with an error.
"""

from __future__ import annotations

from collections.abc import Callable

from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import InferenceFailed, InferenceRequested, Usage
from attesta_common.keys import SigningKey
from attesta_common.record_publisher import RecordSink
from attesta_common.stream import StreamEvent, splice_record
from attesta_common.subjects import (
    inference_failed,
    inference_finished,
    is_gateway_stream_prefix,
    token_stream,
)
from faststream.nats import NatsBroker


def stream_subject(request: InferenceRequested) -> str:
    """Under the gateway's prefix when the request names a valid one (older gateways name
    none), else the inference's own subject."""
    prefix = request.stream_prefix
    if prefix is not None and not is_gateway_stream_prefix(prefix):
        prefix = None
    return token_stream(request.inference_id, prefix)


class PublishFailed(Exception):
    """The broker did not take a record or an event; the request must come back."""


def _always() -> bool:
    return True


class Outbox:
    def __init__(
        self,
        broker: NatsBroker,
        key: SigningKey,
        records: RecordSink,
        *,
        early_end: Callable[[], bool] = _always,
    ) -> None:
        """`early_end`: whether an `end` may go out now, before its record is stored, to a
        gateway that asked for it (see `deliver`)."""
        self._broker = broker
        self._key = key
        self._records = records
        self._early_end = early_end

    async def event(self, request: InferenceRequested, event: StreamEvent) -> None:
        """Core NATS, fire and forget: the stream is ephemeral, the record is the truth."""
        await self._send(request, event.model_dump_json().encode())

    async def end(
        self, request: InferenceRequested, record: SignedRecord, *, stored: bool = True
    ) -> None:
        """The `end` event with the finished record's own bytes spliced in: encoding the
        record again (it holds the request and the artifact) would give the same JSON.
        `stored` false promises a `stored` event once JetStream acknowledges the record."""
        body = record.body
        head = StreamEvent(
            type="end",
            inference_id=request.inference_id,
            finish_reason=body["finish_reason"],
            usage=Usage.model_validate(body["usage"]),
            stored=stored,
        ).model_dump_json(exclude={"record"})
        await self._send(request, splice_record(head.encode(), record.to_bytes()))

    async def deliver(self, request: InferenceRequested, record: SignedRecord) -> None:
        """The finished record to JetStream and the `end` to the waiting gateway. A gateway
        that reads `stored` events checks the record while JetStream stores it and answers
        on `stored`: the store's round trip and the check overlap instead of adding up.

        That costs an event more per request, which a busy executor does without
        (`early_end`): with the cores full the overlap saves no time, and the gateway still
        reads an `end` sent after the record is stored, as from an older executor."""
        if request.end_before_stored and self._early_end():
            await self.end(request, record, stored=False)
            await self.finished(record)
            await self.event(request, StreamEvent(type="stored", inference_id=request.inference_id))
        else:
            await self.finished(record)
            await self.end(request, record)

    async def _send(self, request: InferenceRequested, payload: bytes) -> None:
        try:
            await self._broker.connection.publish(stream_subject(request), payload)
        except Exception as exc:
            raise PublishFailed(f"token stream of {request.inference_id}: {exc!r}") from exc

    async def finished(self, record: SignedRecord) -> None:
        """JetStream with its ack; a copy of an already stored record is a success."""
        try:
            await self._records.publish(inference_finished(self._key.address), record)
        except Exception as exc:
            raise PublishFailed(f"InferenceFinished {record.hash}: {exc!r}") from exc

    async def failed(
        self, request_record: SignedRecord, request: InferenceRequested, code: str, message: str
    ) -> SignedRecord:
        """Sign and publish the failure, then tell the waiting client on its stream."""
        record = sign_event(
            InferenceFailed(
                inference_id=request.inference_id,
                epoch=request.epoch,
                executor=self._key.address,
                request_hash=request_record.hash,
                code=code,
                message=message,
            ),
            self._key,
        )
        try:
            await self._records.publish(inference_failed(self._key.address), record)
        except Exception as exc:
            raise PublishFailed(f"InferenceFailed {record.hash}: {exc!r}") from exc
        await self.event(
            request,
            StreamEvent(
                type="error", inference_id=request.inference_id, code=code, message=message
            ),
        )
        return record
