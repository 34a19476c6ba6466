"""Charges written in batches: one statement for all the charges that came in while the
previous statement was in flight.

A charge per statement was a round trip, a parse and a commit per inference: a tenth of the
gateway's CPU at saturation and a share of Postgres's. Nothing waits on a charge but its
own collection task (the client already has its answer), so charges queue: the first goes
at once and those that arrive meanwhile go together next. At low load a batch is one
charge and nothing waits longer than before.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from attesta_gateway.accounts import close_many

log = logging.getLogger(__name__)

_Pending = tuple[str, int, "asyncio.Future[int | None]"]


class ChargeBatcher:
    def __init__(self, pool: asyncpg.Pool, max_batch: int = 256) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def charge(self, inference_id: str, cost: int) -> int | None:
        """What was charged, or None when the reservation was not held; raises what the
        statement raised (the reservation then stays held for the settler)."""
        done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending.append((inference_id, cost, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="escrow-charges")
        # Shielded: a cancelled collection must not cancel the other charges of its batch.
        return await asyncio.shield(done)

    async def _write(self) -> None:
        batch: list[_Pending] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                costs = {inference_id: cost for inference_id, cost, _ in batch}
                try:
                    charged = await self._close(costs)
                except Exception as exc:
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for inference_id, _, done in batch:
                    if not done.done():
                        done.set_result(charged.get(inference_id))
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

    async def _close(self, costs: dict[str, int]) -> dict[str, int]:
        """One statement, tried twice: a batch locks several accounts, so two writers
        (another gateway, the settler) can deadlock, and Postgres then aborts one of them."""
        try:
            return await close_many(self._pool, costs, "charged")
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("charging %d reservations failed (%r); trying once more", len(costs), exc)
            return await close_many(self._pool, costs, "charged")

    async def close(self) -> None:
        """Let the statement in flight, and what queued behind it, finish."""
        if self._writer is not None:
            await asyncio.shield(self._writer)
