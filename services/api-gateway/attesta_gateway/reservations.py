"""Reservations written in batches (`batching`).

A reservation is on the client's path, so it is never held back: alone it goes at once
as the plain `reserve`, and only those that queue behind a statement in flight share the
next one. The balance check stays per request: an account short for a batch's sum has its
reservations of that batch tried one by one, in order.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from attesta_gateway.accounts import reserve, reserve_many
from attesta_gateway.batching import StatementBatcher

log = logging.getLogger(__name__)


class ReservationBatcher:
    def __init__(self, pool: asyncpg.Pool, max_batch: int = 256) -> None:
        self._pool = pool
        self._batches = StatementBatcher(self._reserve, "escrow-reservations", max_batch)

    def reserve(
        self, account_id: str, inference_id: str, amount: int
    ) -> asyncio.Future[bool | None]:
        """True once held; False (or None) if the balance is short. The statement is on
        its way after one turn of the loop."""
        return self._batches.submit(inference_id, (account_id, amount))

    async def _reserve(self, wanted: dict[str, tuple[str, int]]) -> dict[str, bool]:
        held: set[str] = set()
        if len(wanted) > 1:
            try:
                held = await reserve_many(self._pool, wanted)
            except (asyncpg.PostgresError, OSError) as exc:
                # Several accounts in one statement can deadlock with another gateway.
                log.warning("reserving %d at once failed (%r); one by one", len(wanted), exc)
        return {
            inference_id: inference_id in held
            or await reserve(self._pool, account_id, inference_id, amount)
            for inference_id, (account_id, amount) in wanted.items()
        }

    async def close(self) -> None:
        await self._batches.close()
