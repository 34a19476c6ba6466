"""Spare reservations: one escrow held in advance per active account and endpoint, so that
the account's next request does not wait for Postgres.

A request's reservation is a round trip to Postgres before its publish, the largest wait
on a sequential request's path the network controls (docs/overhead.md). After a request
from an account, a spare is reserved in the background under the id that account's next
request on the same endpoint will get, sized like this one with some headroom. A request
that finds a spare big enough, made in the same epoch, takes it: its `reserved` is the
spare's amount and its charge refunds the rest, as for any reservation. One that finds
none reserves as before.

A spare is money held a little early, and given back:
- when it has been held for `idle_s` (the account stopped sending, or its requests got
  bigger): the account's balance shows the spare only that long after its last request;
- when it does not fit the request that found it (too small, another epoch);
- before a request of its account is refused for a short balance (`give_back`): the
  reservation is then tried once more, so a spare never turns a request that fits the
  balance into a 402, and the account gets no spare for `idle_s`;
- on shutdown (`close`).
A spare of a gateway that crashes stays held until the settler gives back reservations
that no request record names (attesta_settler.payouts, an hour before a settled epoch's
end). The ids come from the dispatcher's own source (canaries' `real_id`), so a request
on a spare looks like any other.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from attesta_common.metrics import GATEWAY_SPARES

from attesta_gateway import accounts
from attesta_gateway.reservations import ReservationBatcher

log = logging.getLogger(__name__)

# (id prefix, epoch) -> a fresh inference id, as the dispatcher draws them.
NewId = Callable[[str, int], str]
# An account's spares are kept per endpoint: the id prefix differs.
_Slot = tuple[str, str]

_TAKEN = GATEWAY_SPARES.labels(outcome="taken")
_EXPIRED = GATEWAY_SPARES.labels(outcome="expired")
_UNFIT = GATEWAY_SPARES.labels(outcome="unfit")
_GIVEN_BACK = GATEWAY_SPARES.labels(outcome="given_back")


@dataclass(frozen=True)
class Spare:
    inference_id: str
    amount: int
    epoch: int
    # time.monotonic() when it was held.
    held_at: float


class SpareReservations:
    def __init__(
        self,
        reservations: ReservationBatcher,
        pool: asyncpg.Pool,
        *,
        idle_s: float,
        headroom: float,
    ) -> None:
        self._reservations = reservations
        self._pool = pool
        self._idle_s = idle_s
        self._headroom = headroom
        self._held: dict[_Slot, Spare] = {}
        self._taking: dict[_Slot, asyncio.Task[None]] = {}
        # Releases under way, with their accounts (a 402 waits for its account's). Also the
        # strong references the event loop does not keep.
        self._releases: dict[asyncio.Task[bool], str] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        # Accounts refused for a short balance: no spares for them until then (monotonic).
        self._paused: dict[str, float] = {}

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="spare-reservations")

    def take(self, account_id: str, id_prefix: str, epoch: int, amount: int) -> Spare | None:
        """The account's spare for this endpoint if it covers `amount` in this epoch; it is
        then the caller's. One that does not fit is given back."""
        spare = self._held.pop((account_id, id_prefix), None)
        if spare is None:
            return None
        if spare.amount >= amount and spare.epoch == epoch:
            _TAKEN.inc()
            return spare
        _UNFIT.inc()
        self._release_soon(account_id, spare)
        return None

    def refill(
        self, account_id: str, id_prefix: str, epoch: int, amount: int, new_id: NewId
    ) -> None:
        """Reserve the account's next spare for this endpoint in the background, unless one
        is held or being reserved."""
        slot = (account_id, id_prefix)
        if self._closed or slot in self._held or slot in self._taking:
            return
        paused = self._paused.get(account_id)
        if paused is not None:
            if paused > time.monotonic():
                return
            del self._paused[account_id]
        spare = Spare(new_id(id_prefix, epoch), math.ceil(amount * self._headroom), epoch, 0.0)
        task = asyncio.create_task(self._reserve(slot, spare), name="spare-reservation")
        self._taking[slot] = task

    async def give_back(self, account_id: str) -> None:
        """Give back the account's spares and take none for it for `idle_s` (it is short of
        money). Returns once every spare of the account is back: held ones, those being
        reserved and those being given back already."""
        self._paused[account_id] = time.monotonic() + self._idle_s
        slots = [slot for slot in (*self._taking, *self._held) if slot[0] == account_id]
        for slot in slots:
            taking = self._taking.get(slot)
            if taking is not None:
                await asyncio.shield(taking)
        releases = [task for task, account in self._releases.items() if account == account_id]
        for slot in slots:
            spare = self._held.pop(slot, None)
            if spare is not None:
                _GIVEN_BACK.inc()
                releases.append(self._release_soon(account_id, spare))
        await asyncio.gather(*releases)

    async def close(self) -> None:
        """Reserve no more and give every spare back (before the pool closes)."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await asyncio.gather(*self._taking.values(), return_exceptions=True)
        spares, self._held = list(self._held.values()), {}
        await asyncio.gather(*(self._release(spare) for spare in spares))
        await asyncio.gather(*self._releases, return_exceptions=True)

    @property
    def held(self) -> int:
        return len(self._held)

    async def _reserve(self, slot: _Slot, spare: Spare) -> None:
        try:
            held = await self._reservations.reserve(slot[0], spare.inference_id, spare.amount)
        except Exception as exc:
            # Whether it was taken is unknown: if it was, the settler gives it back.
            log.warning("reserving a spare for %s failed: %r", slot[0], exc)
            return
        finally:
            self._taking.pop(slot, None)
        if not held:
            return  # the balance is short of a spare: requests reserve their own
        spare = Spare(spare.inference_id, spare.amount, spare.epoch, time.monotonic())
        if self._closed:
            await self._release(spare)
        else:
            self._held[slot] = spare

    def _release_soon(self, account_id: str, spare: Spare) -> asyncio.Task[bool]:
        task = asyncio.create_task(self._release(spare), name="spare-release")
        self._releases[task] = account_id
        task.add_done_callback(self._forget_release)
        return task

    def _forget_release(self, task: asyncio.Task[bool]) -> None:
        self._releases.pop(task, None)

    async def _release(self, spare: Spare) -> bool:
        try:
            return await accounts.release(self._pool, spare.inference_id) is not None
        except Exception as exc:
            # Still held: the settler gives back reservations no request names.
            log.warning("giving back spare %s failed: %r", spare.inference_id, exc)
            return False

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(self._idle_s / 2, 0.05))
            now = time.monotonic()
            self._paused = {a: until for a, until in self._paused.items() if until > now}
            cutoff = now - self._idle_s
            for slot, spare in list(self._held.items()):
                if spare.held_at <= cutoff:
                    del self._held[slot]
                    _EXPIRED.inc()
                    self._release_soon(slot[0], spare)
