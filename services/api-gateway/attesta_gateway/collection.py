"""The per-inference task: publish the request, relay the token stream, charge or release.

It runs apart from the HTTP response, which only reads `Inference.outcomes`; whatever the
client does, the task ends in exactly one of: charged (a verified `end` whose record is
stored; the client hears the answer while the charge is written), released (`error`,
invalid record, timeout, failed publish), or left held on shutdown (the executor may
still finish; the settler closes stale reservations from the records).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from attesta_common.envelope import RecordRejected, SignedRecord, parse_record
from attesta_common.events import InferenceFinished
from attesta_common.metrics import GATEWAY_IN_FLIGHT, GATEWAY_TTFT
from attesta_common.pricing import inference_cost
from attesta_common.stream import StreamEvent, split_record
from attesta_common.subjects import inference_requested
from nats.aio.msg import Msg
from pydantic import ValidationError

from attesta_gateway import accounts
from attesta_gateway.context import GatewayContext
from attesta_gateway.errors import SERVER_ERROR, OpenAIError
from attesta_gateway.token_streams import TokenStream
from attesta_gateway.verification import verify_finished

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    finished: InferenceFinished
    record_hash: str


@dataclass(frozen=True)
class Failed:
    error: OpenAIError


Outcome: TypeAlias = StreamEvent | Completed | Failed
Checked: TypeAlias = tuple[SignedRecord, InferenceFinished]
# An `end`'s record: read from its own bytes, or decoded with the event (None: it has none).
EndRecord: TypeAlias = SignedRecord | dict[str, Any] | None
Received: TypeAlias = tuple[StreamEvent, EndRecord]


@dataclass
class Inference:
    inference_id: str
    executor: str
    epoch: int
    seed: int
    request_hash: str
    created: int
    # True once JetStream acknowledged the request, False if it could not be published.
    published: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    queue: asyncio.Queue[Outcome] = field(default_factory=asyncio.Queue)

    async def outcomes(self) -> AsyncIterator[Outcome]:
        """Chunks in order, then exactly one `Completed` or `Failed`."""
        while True:
            item = await self.queue.get()
            yield item
            if not isinstance(item, StreamEvent):
                return


class Collector:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    async def run(self, inference: Inference, stream: TokenStream, request: SignedRecord) -> None:
        GATEWAY_IN_FLIGHT.inc()
        try:
            if await self._publish(inference, request):
                await self._collect(inference, stream, request)
        except asyncio.CancelledError:
            # Shutdown: the reservation stays held on purpose (the executor may still
            # finish and the records decide); the waiting client gets an answer.
            self._fail(inference, 503, "the gateway is shutting down", "shutting_down")
            raise
        except Exception:
            log.exception("inference %s: collection failed", inference.inference_id)
            await self._release(inference)
            self._fail(inference, 500, "the gateway failed to collect the result", "internal")
        finally:
            GATEWAY_IN_FLIGHT.dec()
            if not inference.published.done():
                inference.published.set_result(False)
            await stream.close()

    async def _publish(self, inference: Inference, request: SignedRecord) -> bool:
        try:
            await self.ctx.records.publish(
                inference_requested(inference.executor),
                request,
                timeout=self.ctx.settings.publish_timeout_s,
            )
        except Exception:
            log.exception("inference %s: publishing the request failed", inference.inference_id)
            await self._release(inference)
            inference.published.set_result(False)
            return False
        inference.published.set_result(True)
        return True

    async def _collect(
        self, inference: Inference, stream: TokenStream, request: SignedRecord
    ) -> None:
        settings = self.ctx.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + settings.request_timeout_s + settings.deadline_grace_s
        heard = False
        # The checked record of an `end` whose `stored` is still to come.
        checked: Checked | None = None
        try:
            # One timer for the whole stream, moved once the first event is in: cheaper
            # than a timeout per message.
            async with asyncio.timeout_at(
                min(deadline, started + settings.first_token_timeout_s)
            ) as window:
                while True:
                    received = _stream_event(inference, await stream.messages.get())
                    if received is None:
                        continue
                    event, record = received
                    if not heard:
                        heard = True
                        window.reschedule(deadline)
                        # From the acked publish: the time the network, not the client, adds.
                        GATEWAY_TTFT.labels(model=str(request.body.get("model"))).observe(
                            loop.time() - started
                        )
                    if event.type == "chunk":
                        inference.queue.put_nowait(event)
                    elif event.type == "end" and not event.stored:
                        # Checked while JetStream stores it; answered once it is stored.
                        checked = await self._check(inference, record, request)
                        if checked is None:
                            return
                    elif event.type != "stored" or checked is not None:
                        break
        except TimeoutError:
            await self._release(inference)
            self._fail(inference, 504, "the executor did not answer in time", "timeout")
            return
        if event.type == "error":
            await self._release(inference)
            inference.queue.put_nowait(Failed(_executor_error(event)))
            return
        if event.type == "end":
            checked = await self._check(inference, record, request)
        if checked is not None:
            await self._finish(inference, checked)

    async def _check(
        self, inference: Inference, record: EndRecord, request: SignedRecord
    ) -> Checked | None:
        """The `end`'s record if it is the one this request must get; else the inference
        fails here (None)."""
        try:
            return verify_finished(record, self.ctx.genesis, inference.executor, request)
        except RecordRejected as exc:
            log.warning("inference %s: invalid finished record: %s", inference.inference_id, exc)
            await self._release(inference)
            self._fail(inference, 502, "the executor returned an invalid record", "bad_record")
            return None

    async def _finish(self, inference: Inference, checked: Checked) -> None:
        record, finished = checked
        # The client has its answer before the charge: the work is done, signed and stored,
        # and whether the charge succeeds changes nothing it hears. Until the charge lands
        # the escrow holds the reservation, never less than the cost, so no later request
        # can spend the money meanwhile.
        inference.queue.put_nowait(Completed(finished, record.hash))
        usage = finished.usage
        cost = inference_cost(self.ctx.genesis, usage.prompt_tokens, usage.completion_tokens)
        try:
            if await self.ctx.charges.charge(inference.inference_id, cost) is None:
                log.warning("inference %s: reservation was not held", inference.inference_id)
        except Exception:
            # The reservation stays held and the settler settles it from the finished record.
            log.exception("inference %s: charging failed", inference.inference_id)

    async def _release(self, inference: Inference) -> None:
        try:
            await accounts.release(self.ctx.pool, inference.inference_id)
        except Exception:
            # The settler closes stale held reservations; log and let the client hear why.
            log.exception("inference %s: releasing the reservation failed", inference.inference_id)

    @staticmethod
    def _fail(inference: Inference, status: int, message: str, code: str) -> None:
        error_type = "timeout" if status == 504 else SERVER_ERROR
        inference.queue.put_nowait(Failed(OpenAIError(status, message, type=error_type, code=code)))


def _stream_event(inference: Inference, msg: Msg) -> Received | None:
    """The event a stream message holds and its record, or None when it is not one of this
    inference's."""
    received = _spliced_event(msg.data)
    if received is None:
        try:
            event = StreamEvent.model_validate_json(msg.data)
        except ValidationError:
            log.warning("inference %s: malformed stream message", inference.inference_id)
            return None
        received = event, event.record
    return received if received[0].inference_id == inference.inference_id else None


def _spliced_event(data: bytes) -> Received | None:
    """An `end` as executors write it (`splice_record`), its record read from its own bytes
    (not decoded into the event, then encoded again to be checked); None for anything
    else, which is then read whole."""
    parts = split_record(data)
    if parts is None:
        return None
    head, record_bytes = parts
    try:
        event = StreamEvent.model_validate_json(head)
        record = parse_record(record_bytes)
    except (ValidationError, RecordRejected):
        return None
    if event.record is not None:
        return None
    return event, record


def _executor_error(event: StreamEvent) -> OpenAIError:
    code = event.code or "executor_error"
    message = event.message or "the executor failed"
    if code == "context_length_exceeded":
        return OpenAIError(400, message, code=code)
    return OpenAIError(502, f"executor error: {message}", type=SERVER_ERROR, code=code)
