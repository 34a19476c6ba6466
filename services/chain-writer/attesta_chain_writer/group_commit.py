"""Group commit: records from concurrently handled messages share transactions.

While one transaction is in flight, the records arriving meanwhile wait together and go
in the next one, so under load a transaction carries many records and one connection
serves the whole consumer (the batcher keeps the rest of the pool), and under light load
a record is written at once. Each caller returns only once its own record committed, or
gets the transaction's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from attesta_chain_writer.pending import PendingRecord, add_pending

_Waiter = tuple[PendingRecord, asyncio.Future[None]]


class GroupCommitter:
    def __init__(
        self, pool: asyncpg.Pool, *, max_batch: int, on_added: Callable[[int], None]
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._on_added = on_added
        self._waiting: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, record: PendingRecord) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((record, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="chain-writer-ingest")
        await done

    async def _write_all(self) -> None:
        group: list[_Waiter] = []
        try:
            while self._waiting:
                group = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    added = await add_pending(self._pool, [record for record, _ in group])
                except Exception as exc:
                    _settle(group, exc)
                    continue
                _settle(group, None)
                if added:
                    self._on_added(added)
        except asyncio.CancelledError:
            # Nobody may wait forever: their messages stay unacked and come back.
            for _, done in [*group, *self._waiting]:
                done.cancel()
            self._waiting.clear()
            raise


def _settle(group: list[_Waiter], error: Exception | None) -> None:
    for _, done in group:
        if done.done():  # its handler was cancelled meanwhile
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
