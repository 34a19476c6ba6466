"""Signed liveness and load, on core NATS, every `interval_s`.

The gateway draws executors among those whose heartbeats are fresh, so the beat runs as
its own task on the event loop and keeps going while the engine thread generates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from attesta_common.envelope import sign_event
from attesta_common.events import ExecutorHeartbeat
from attesta_common.keys import SigningKey
from attesta_common.subjects import EXECUTOR_HEARTBEAT, STREAM_PREFIX_FEATURE
from faststream.nats import NatsBroker

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        broker: NatsBroker,
        key: SigningKey,
        *,
        models: list[str],
        capacity: int,
        in_flight: Callable[[], int],
        interval_s: float,
    ) -> None:
        self._broker = broker
        self._key = key
        self._models = models
        self._capacity = capacity
        self._in_flight = in_flight
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def beat(self) -> bytes:
        return sign_event(
            ExecutorHeartbeat(
                executor=self._key.address,
                models=self._models,
                capacity=self._capacity,
                in_flight=self._in_flight(),
                sent_at_ms=int(time.time() * 1000),
                features=[STREAM_PREFIX_FEATURE],
            ),
            self._key,
        ).to_bytes()

    async def _run(self) -> None:
        while True:
            try:
                await self._broker.connection.publish(EXECUTOR_HEARTBEAT, self.beat())
            except Exception as exc:
                # A missed beat during a broker outage is what the gateway should see.
                log.warning("heartbeat not sent: %r", exc)
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="executor-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
