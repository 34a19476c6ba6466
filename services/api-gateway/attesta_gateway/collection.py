"""The per-inference task: publish the request, relay the token stream, charge or release.

It runs apart from the HTTP response, which only reads `Inference.outcomes`; whatever the
client does, the task ends in exactly one of: charged (a verified `end`), released
(`error`, invalid record, timeout, failed publish), or left held on shutdown (the executor
may still finish; the settler closes stale reservations from the records).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TypeAlias

import nats.errors
from attesta_common.broker import publish_record
from attesta_common.envelope import RecordRejected, SignedRecord
from attesta_common.events import InferenceFinished
from attesta_common.metrics import GATEWAY_IN_FLIGHT, GATEWAY_TTFT
from attesta_common.pricing import inference_cost
from attesta_common.stream import StreamEvent
from attesta_common.subjects import inference_requested
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from attesta_gateway import accounts
from attesta_gateway.context import GatewayContext
from attesta_gateway.errors import SERVER_ERROR, OpenAIError
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

    async def run(self, inference: Inference, sub: Subscription, request: SignedRecord) -> None:
        GATEWAY_IN_FLIGHT.inc()
        try:
            if await self._publish(inference, request):
                await self._collect(inference, sub, request)
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
            # A closed connection took the subscription with it.
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _publish(self, inference: Inference, request: SignedRecord) -> bool:
        try:
            await publish_record(
                self.ctx.broker,
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
        self, inference: Inference, sub: Subscription, request: SignedRecord
    ) -> None:
        settings = self.ctx.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + settings.request_timeout_s + settings.deadline_grace_s
        first_deadline = min(deadline, started + settings.first_token_timeout_s)
        heard = False
        while True:
            remaining = (deadline if heard else first_deadline) - loop.time()
            try:
                if remaining <= 0:
                    raise nats.errors.TimeoutError
                msg = await sub.next_msg(timeout=remaining)
            except nats.errors.TimeoutError:
                await self._release(inference)
                self._fail(inference, 504, "the executor did not answer in time", "timeout")
                return
            try:
                event = StreamEvent.model_validate_json(msg.data)
            except ValidationError:
                log.warning("inference %s: malformed stream message", inference.inference_id)
                continue
            if event.inference_id != inference.inference_id:
                continue
            if not heard:
                # From the acked publish: the time the network, not the client, adds.
                GATEWAY_TTFT.labels(model=str(request.body.get("model"))).observe(
                    loop.time() - started
                )
            heard = True
            if event.type == "chunk":
                inference.queue.put_nowait(event)
            elif event.type == "end":
                await self._finish(inference, event, request)
                return
            else:
                await self._release(inference)
                inference.queue.put_nowait(Failed(_executor_error(event)))
                return

    async def _finish(
        self, inference: Inference, event: StreamEvent, request: SignedRecord
    ) -> None:
        try:
            record, finished = verify_finished(
                event.record, self.ctx.genesis, inference.executor, request
            )
        except RecordRejected as exc:
            log.warning("inference %s: invalid finished record: %s", inference.inference_id, exc)
            await self._release(inference)
            self._fail(inference, 502, "the executor returned an invalid record", "bad_record")
            return
        usage = finished.usage
        cost = inference_cost(self.ctx.genesis, usage.prompt_tokens, usage.completion_tokens)
        try:
            if await accounts.charge(self.ctx.pool, inference.inference_id, cost) is None:
                log.warning("inference %s: reservation was not held", inference.inference_id)
        except Exception:
            # The work is done and signed: the client still gets it. The reservation stays
            # held and the settler settles it from the finished record.
            log.exception("inference %s: charging failed", inference.inference_id)
        inference.queue.put_nowait(Completed(finished, record.hash))

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


def _executor_error(event: StreamEvent) -> OpenAIError:
    code = event.code or "executor_error"
    message = event.message or "the executor failed"
    if code == "context_length_exceeded":
        return OpenAIError(400, message, code=code)
    return OpenAIError(502, f"executor error: {message}", type=SERVER_ERROR, code=code)
