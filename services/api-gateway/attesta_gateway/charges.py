"""Charges written in batches (`batching`).

A charge per statement was a round trip, a parse and a commit per inference: a tenth of the
gateway's CPU at saturation and a share of Postgres's. Nothing waits on a charge but its
own collection task (the client already has its answer), so charges queue, and at low
load linger (`charge_linger_s`) so that a client's requests one after another share
statements too: a statement per request cost Postgres more CPU than anything else on the
sequential path but the two services (docs/overhead.md).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from attesta_gateway.accounts import close_many
from attesta_gateway.batching import StatementBatcher

log = logging.getLogger(__name__)


class ChargeBatcher:
    def __init__(self, pool: asyncpg.Pool, max_batch: int = 256, linger_s: float = 0.0) -> None:
        self._pool = pool
        self._batches = StatementBatcher(self._close, "escrow-charges", max_batch, linger_s)

    async def charge(self, inference_id: str, cost: int) -> int | None:
        """What was charged, or None when the reservation was not held; raises what the
        statement raised (the reservation then stays held for the settler)."""
        # Shielded: a cancelled collection must not cancel the other charges of its batch.
        return await asyncio.shield(self._batches.submit(inference_id, cost))

    async def _close(self, costs: dict[str, int]) -> dict[str, int]:
        """One statement, tried twice: gateways lock accounts in id order, but a batch
        can still deadlock with the settler's statements (or lose its connection), and
        Postgres then aborts one of them."""
        try:
            return await close_many(self._pool, costs, "charged")
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("charging %d reservations failed (%r); trying once more", len(costs), exc)
            return await close_many(self._pool, costs, "charged")

    async def flush(self) -> None:
        """Every queued charge written: their refunds are in the balances."""
        await self._batches.flush()

    async def close(self) -> None:
        await self._batches.close()
