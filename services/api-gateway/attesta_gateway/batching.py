"""Statements written in batches: one for everything that came in while the previous one
was in flight.

The first item goes at once and those that arrive meanwhile go together next, so at low
load a batch is one item and nothing waits longer than it would alone; at saturation a
round trip, a parse and a commit are shared by the whole batch.
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
    def __init__(self, write: Write[Key, Item, Result], name: str, max_batch: int = 256) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._pending: list[tuple[Key, Item, asyncio.Future[Result | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def submit(self, key: Key, item: Item) -> asyncio.Future[Result | None]:
        """Queued at once, and a writer started if none runs: when no statement is in
        flight, the item's own is sent within one turn of the loop; otherwise it goes in
        the next batch, once the statement in flight is answered."""
        done: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, item, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name=self._name)
        return done

    async def _drain(self) -> None:
        batch: list[tuple[Key, Item, asyncio.Future[Result | None]]] = []
        try:
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

    async def close(self) -> None:
        """Let the statement in flight, and what queued behind it, finish."""
        if self._writer is not None:
            await asyncio.shield(self._writer)
