"""Requests in hand: how many (for heartbeats and shutdown), and keeping each one alive
in JetStream while it waits for the engine or generates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

log = logging.getLogger(__name__)


class InProgress(Protocol):
    async def in_progress(self) -> None: ...


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """True once nothing is in flight; False if that takes longer than timeout_s."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


@contextlib.asynccontextmanager
async def keep_alive(message: InProgress, interval_s: float) -> AsyncIterator[None]:
    """Mark the message in progress every interval_s, so ack_wait never runs out on a
    request that is queued behind others or generating a long answer."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await message.in_progress()
            except Exception as exc:
                log.warning("could not extend the ack deadline: %r", exc)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
