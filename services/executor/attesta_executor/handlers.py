"""What happens to each of this executor's requests, and the durable consumer they come
from (`consumer.PullConsumer` pulls them).

One durable pull consumer per executor on its own request subject, acked by hand: a
request is acked once its outcome is published, or at once when it must never run
(forged, misaddressed, for a model not served here). `max_ack_pending` equals the
capacity, so JetStream hands out no more requests than can be in flight.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

from attesta_common.envelope import RecordRejected, SignedRecord, read_record
from attesta_common.events import InferenceRequested
from attesta_common.genesis import Genesis
from attesta_common.metrics import EXECUTOR_IN_FLIGHT, EXECUTOR_REQUESTS
from attesta_common.subjects import inference_requested
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from attesta_executor.execution import Abandoned, Execution, Outcome
from attesta_executor.inflight import InFlight
from attesta_executor.outbox import PublishFailed
from attesta_executor.settings import ExecutorSettings

log = logging.getLogger(__name__)


def consumer_config(settings: ExecutorSettings, address: str) -> ConsumerConfig:
    durable = f"executor-{address}"
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=inference_requested(address),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.capacity,
        # From the requests published once it exists: a gateway draws only executors it
        # hears heartbeats from, which start after the consumer, so nothing older is
        # addressed to a new one, and one re-created after a deletion must not replay
        # every request its executor ever served.
        deliver_policy=DeliverPolicy.NEW,
    )


class RequestMessage(Protocol):
    """What the handler needs of a JetStream message (nats-py's `Msg` has it)."""

    data: bytes

    async def ack(self) -> None: ...

    async def nak(self, delay: float | None = None) -> None: ...

    async def in_progress(self) -> None: ...


class RequestHandler:
    """Admits, runs and acknowledges requests; counts them for heartbeats and shutdown."""

    def __init__(
        self, genesis: Genesis, address: str, model: str, settings: ExecutorSettings
    ) -> None:
        self._genesis = genesis
        self._address = address
        self._model = model
        self._settings = settings
        # Set once the engine is loaded, before the consumer starts.
        self.execution: Execution | None = None
        self.closing = False
        self._in_flight = InFlight()

    def admit(self, raw: bytes) -> tuple[SignedRecord, InferenceRequested] | None:
        """The request if this executor may run it; otherwise None, with the reason logged."""
        try:
            record, request = read_record(raw, self._genesis, InferenceRequested)
        except RecordRejected as exc:
            log.warning("rejected a request record: %s", exc)
            return None
        if request.executor != self._address:
            log.warning("rejected %s: addressed to %s", request.inference_id, request.executor)
            return None
        if request.model != self._model:
            log.warning("rejected %s: model %r not served", request.inference_id, request.model)
            return None
        return record, request

    async def handle(self, message: RequestMessage) -> None:
        admitted = self.admit(message.data)
        if admitted is None:
            # Never redelivered: no retry turns a forged or misaddressed request valid.
            EXECUTOR_REQUESTS.labels(outcome="rejected").inc()
            await message.ack()
            return
        if self.closing or self.execution is None:
            await message.nak(delay=self._handback_delay_s())
            return
        record, request = admitted
        with self._in_flight.track(message), EXECUTOR_IN_FLIGHT.track_inprogress():
            outcome = await self._run(self.execution, record, request)
        if outcome is not None:
            EXECUTOR_REQUESTS.labels(outcome=outcome).inc()
            await message.ack()
            return
        with contextlib.suppress(Exception):
            await message.nak(delay=self._handback_delay_s())

    def _handback_delay_s(self) -> float:
        """How long a handed-back request stays away: short for a broker blip; on shutdown
        longer than this process's standing pull request lives, or it would come straight
        back here to be handed back again."""
        if self.closing:
            return max(self._settings.retry_delay_s, self._settings.pull_expires_s + 1.0)
        return self._settings.retry_delay_s

    async def _run(
        self, execution: Execution, record: SignedRecord, request: InferenceRequested
    ) -> Outcome | None:
        """The outcome once it is published; None when the request must come back."""
        try:
            return await execution.run(record, request)
        except Abandoned:
            log.info("%s abandoned on shutdown; it will be redelivered", request.inference_id)
            return None
        except PublishFailed as exc:
            log.warning("%s: %s; redelivery expected", request.inference_id, exc)
            return None

    async def keep_alive(self) -> None:
        """Runs for the executor's life (a task of `Executor`): the requests in hand are
        marked in progress every `progress_interval_s`."""
        await self._in_flight.keep_alive(self._settings.progress_interval_s)

    @property
    def in_flight(self) -> int:
        return self._in_flight.count

    async def wait_idle(self, timeout_s: float) -> bool:
        return await self._in_flight.wait_idle(timeout_s)
