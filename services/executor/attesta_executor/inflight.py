"""Requests in hand: how many (for heartbeats and shutdown), and keeping each one alive
in JetStream while it waits for the engine or generates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Protocol

log = logging.getLogger(__name__)


class InProgress(Protocol):
    async def in_progress(self) -> None: ...


class InFlight:
    def __init__(self) -> None:
        # By identity: nats-py's `Msg` is a dataclass, equal by value and not hashable.
        self._messages: dict[int, InProgress] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return len(self._messages)

    @contextlib.contextmanager
    def track(self, message: InProgress) -> Iterator[None]:
        self._messages[id(message)] = message
        self._idle.clear()
        try:
            yield
        finally:
            del self._messages[id(message)]
            if not self._messages:
                self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """True once nothing is in flight; False if that takes longer than timeout_s."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def keep_alive(self, interval_s: float) -> None:
        """For the executor's whole life: every interval_s, mark each request in hand in
        progress, so ack_wait never runs out on one that is queued behind others or
        generating a long answer. One task for all of them, not one per request."""
        while True:
            await asyncio.sleep(interval_s)
            for key, message in list(self._messages.items()):
                # Done meanwhile (acked or handed back): a mark now would undo a nak's delay.
                if key not in self._messages:
                    continue
                try:
                    await message.in_progress()
                except Exception as exc:
                    log.warning("could not extend the ack deadline: %r", exc)
