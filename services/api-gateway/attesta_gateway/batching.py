"""Statements written in batches: one for everything that came in while the previous one
was in flight.

The first item goes at once and those that arrive meanwhile go together next, so at low
load a batch is one item and nothing waits longer than it would alone; at saturation a
round trip, a parse and a commit are shared by the whole batch. Writes nobody waits for
(charges: the client has its answer) may `linger` first, so that at low load too several
share a statement; `flush` ends the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

Key = TypeVar("Key")
Item = TypeVar("Item")
Result = TypeVar("Result")

# What one statement does: the results of the items it wrote, by key; a key it leaves out
# gets None, one whose result is an exception gets that raised. An exception it raises
# reaches every item of the batch.
Write = Callable[[dict[Key, Item]], Awaitable[Mapping[Key, Result | Exception]]]


class StatementBatcher(Generic[Key, Item, Result]):
    def __init__(
        self,
        write: Write[Key, Item, Result],
        name: str,
        max_batch: int = 256,
        linger_s: float = 0.0,
    ) -> None:
        """`linger_s`: how long the first item waits for others when no statement is in
        flight (0: it goes at once)."""
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._pending: list[tuple[Key, Item, asyncio.Future[Result | None]]] = []
        self._writer: asyncio.Task[None] | None = None
        # Made with a writer that is to linger; resolved (by its timer, a flush or a full
        # batch) when the batch is to go.
        self._lingering: asyncio.Future[None] | None = None

    def submit(self, key: Key, item: Item) -> asyncio.Future[Result | None]:
        """Queued at once, and a writer started if none runs: when no statement is in
        flight, the item's own is sent within one turn of the loop (or after the linger,
        unless a full batch is waiting by then); otherwise it goes in the next batch, once
        the statement in flight is answered."""
        done: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, item, done))
        if self._writer is None:
            if self._linger_s > 0:
                self._lingering = asyncio.get_running_loop().create_future()
            self._writer = asyncio.create_task(self._drain(), name=self._name)
        if len(self._pending) >= self._max_batch:
            self._stop_lingering()
        return done

    def _stop_lingering(self) -> None:
        lingering = self._lingering
        if lingering is not None and not lingering.done():
            lingering.set_result(None)

    async def _linger(self, lingering: asyncio.Future[None]) -> None:
        timer = asyncio.get_running_loop().call_later(self._linger_s, self._stop_lingering)
        try:
            await lingering
        finally:
            timer.cancel()
            self._lingering = None

    async def _drain(self) -> None:
        batch: list[tuple[Key, Item, asyncio.Future[Result | None]]] = []
        try:
            if self._lingering is not None:
                await self._linger(self._lingering)
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._write({key: item for key, item, _ in batch})
                except Exception as exc:
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for key, _, done in batch:
                    if done.done():
                        continue
                    result = results.get(key)
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
                batch = []
        except BaseException:
            # Cancelled with the gateway: nobody is left to write the rest, and nobody may
            # wait for them forever.
            for _, _, done in [*batch, *self._pending]:
                done.cancel()
            self._pending.clear()
            raise
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Write what is queued now, and wait until it is written."""
        if self._writer is not None:
            self._stop_lingering()
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        """Let the statement in flight, and what queued behind it, finish."""
        await self.flush()
