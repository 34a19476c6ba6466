"""Reservations written in batches (`batching`).

A reservation is on the client's path, so it is never held back: alone it goes at once
as the plain `reserve`, and only those that queue behind a statement in flight share the
next one. The balance check keeps the meaning it has one at a time: an account short for
its batch's sum gets, in order, each reservation that still fits what is left, in at most
two more statements whatever the batch's size (so a client spending an empty account
cannot slow the others' reservations down by a round trip per request).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from attesta_gateway.accounts import reserve, reserve_many, spendable
from attesta_gateway.batching import StatementBatcher

log = logging.getLogger(__name__)

# inference id -> (account id, amount)
Wanted = dict[str, tuple[str, int]]
Outcomes = dict[str, bool | Exception]


class ReservationBatcher:
    def __init__(self, pool: asyncpg.Pool, max_batch: int = 256) -> None:
        self._pool = pool
        self._batches = StatementBatcher(self._reserve, "escrow-reservations", max_batch)

    def reserve(
        self, account_id: str, inference_id: str, amount: int
    ) -> asyncio.Future[bool | None]:
        """True once held; False (or None) if the balance is short."""
        return self._batches.submit(inference_id, (account_id, amount))

    async def _reserve(self, wanted: Wanted) -> Outcomes:
        if len(wanted) == 1:
            ((inference_id, (account_id, amount)),) = wanted.items()
            return {inference_id: await reserve(self._pool, account_id, inference_id, amount)}
        try:
            held = await reserve_many(self._pool, wanted)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("reserving %d at once failed (%r); one by one", len(wanted), exc)
            return await self._one_by_one(wanted)
        outcomes: Outcomes = {inference_id: True for inference_id in held}
        short = {key: item for key, item in wanted.items() if key not in held}
        if short:
            outcomes |= await self._what_fits(short)
        return outcomes

    async def _what_fits(self, short: Wanted) -> Outcomes:
        """Each reservation, in order, that fits what its account has left."""
        outcomes: Outcomes = {}
        try:
            left = await spendable(self._pool, {account for account, _ in short.values()})
            fitting: Wanted = {}
            for inference_id, (account_id, amount) in short.items():
                if amount <= left.get(account_id, 0):
                    fitting[inference_id] = (account_id, amount)
                    left[account_id] -= amount
                else:
                    outcomes[inference_id] = False
            # An account spent meanwhile (another gateway) gets none of these: a 402 it
            # would also have got a moment later.
            held = await reserve_many(self._pool, fitting) if fitting else set()
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("reserving for short accounts failed (%r); one by one", exc)
            return await self._one_by_one(short)
        return outcomes | {inference_id: inference_id in held for inference_id in fitting}

    async def _one_by_one(self, wanted: Wanted) -> Outcomes:
        """Each on its own, its failure its own: one that raises must not take with it the
        reservations already held before it (their requests would never be sent, and
        nothing would give their money back)."""
        outcomes: Outcomes = {}
        for inference_id, (account_id, amount) in wanted.items():
            try:
                outcomes[inference_id] = await reserve(self._pool, account_id, inference_id, amount)
            except asyncpg.UniqueViolationError:
                # Held already: the batch that failed had committed before its answer was
                # lost.
                outcomes[inference_id] = True
            except (asyncpg.PostgresError, OSError) as exc:
                outcomes[inference_id] = exc
        return outcomes

    async def close(self) -> None:
        await self._batches.close()
