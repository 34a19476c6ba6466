"""Spare reservations: one escrow held in advance per active account and endpoint, so that
the account's next request does not wait for Postgres.

A request's reservation is a round trip to Postgres before its publish, the largest wait
on a sequential request's path the network controls (docs/overhead.md). After a request
from an account, a spare is reserved in the background under the id that account's next
request on the same endpoint will get, sized like this one with some headroom. A request
that finds a spare that covers it (at most twice over) in the same epoch takes it. Its
record names the request's own need as `reserved`, as every request's does (canaries
included: the amount must not tell them apart), and its charge refunds the rest of the
spare, as for any reservation. One that finds none reserves as before.

A spare is money held a little early, and given back:
- when it has been held for `idle_s` (checked every `idle_s / 2`, so after `idle_s` to
  1.5x that): the account's balance shows the spare only that long after its last request;
- when it does not fit the request that found it (too small, over twice the need, another
  epoch);
- before a request of its account is refused for a short balance (`give_back`): this
  gateway's spares of the account come back, those its requests in flight took are
  lowered to those requests' needs, the reservation is tried once more, and the account
  gets no spare for `idle_s`; so this gateway's spares never refuse a request that the
  balance covers (another gateway's spares of the account are back within 1.5x `idle_s`);
- when reserving it failed after all (best effort; a short balance also pauses the
  account's spares), and on shutdown (`close`).
A spare of a gateway that crashes stays held until the settler gives back reservations
that no request record names (attesta_settler.payouts, an hour before a settled epoch's
end; `spare_idle_s` is capped well below that). A spare was reserved while the account was
enabled: an account disabled since can still spend the spares held for it, at most one
per endpoint and gateway, for at most 1.5x `idle_s` (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from attesta_common.metrics import GATEWAY_SPARES

log = logging.getLogger(__name__)

# The ports to the escrow (attesta_gateway.accounts, through the reservation batcher):
# reserve (account, inference id, amount): True once held, False if the balance is short;
Reserve = Callable[[str, str, int], asyncio.Future[bool | None]]
# release held reservations whole; shrink held ones to the amount given, refunding the rest.
Release = Callable[[list[str]], Awaitable[object]]
Shrink = Callable[[dict[str, int]], Awaitable[object]]
# (id prefix, epoch) -> a fresh inference id, as the dispatcher draws them.
NewId = Callable[[str, int], str]
# An account's spares are kept per endpoint: the id prefix differs.
_Slot = tuple[str, str]

# A spare covers a request that needs at most this much less: more would hold too much
# of the account's money while the request runs.
MAX_OVER_NEED = 2.0

_TAKEN = GATEWAY_SPARES.labels(outcome="taken")
_EXPIRED = GATEWAY_SPARES.labels(outcome="expired")
_UNFIT = GATEWAY_SPARES.labels(outcome="unfit")
_GIVEN_BACK = GATEWAY_SPARES.labels(outcome="given_back")


@dataclass(frozen=True)
class Spare:
    account_id: str
    inference_id: str
    amount: int
    epoch: int
    # time.monotonic() when it was held.
    held_at: float = 0.0


class SpareReservations:
    def __init__(
        self,
        reserve: Reserve,
        release: Release,
        shrink: Shrink,
        *,
        idle_s: float,
        headroom: float,
        request_lifetime_s: float,
    ) -> None:
        """`request_lifetime_s`: how long a request that took a spare may hold it (its
        deadline and grace); after that its charge or release has closed it."""
        self._reserve_escrow = reserve
        self._release_escrow = release
        self._shrink_escrow = shrink
        self._idle_s = idle_s
        self._headroom = headroom
        self._lifetime_s = request_lifetime_s
        self._held: dict[_Slot, Spare] = {}
        self._taking: dict[_Slot, asyncio.Task[None]] = {}
        # Releases under way, with their accounts (a 402 waits for its account's). Also the
        # strong references the event loop does not keep.
        self._releases: dict[asyncio.Task[None], frozenset[str]] = {}
        # Spares taken by requests still running: account -> id -> (need, monotonic time).
        self._taken: dict[str, dict[str, tuple[int, float]]] = {}
        # Accounts short of money: no spares for them until then (monotonic).
        self._paused: dict[str, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="spare-reservations")

    def take(self, account_id: str, id_prefix: str, epoch: int, need: int) -> Spare | None:
        """The account's spare for this endpoint if it fits `need` in this epoch; it is then
        the caller's. One that does not fit is given back."""
        spare = self._held.pop((account_id, id_prefix), None)
        if spare is None:
            return None
        if spare.epoch == epoch and need <= spare.amount <= need * MAX_OVER_NEED:
            _TAKEN.inc()
            taken = self._taken.setdefault(account_id, {})
            taken[spare.inference_id] = (need, time.monotonic())
            return spare
        _UNFIT.inc()
        self._release_soon([spare])
        return None

    def refill(self, account_id: str, id_prefix: str, epoch: int, need: int, new_id: NewId) -> None:
        """Reserve the account's next spare for this endpoint in the background, unless one
        is held or being reserved, or the account is short of money."""
        slot = (account_id, id_prefix)
        if self._closed or slot in self._held or slot in self._taking:
            return
        paused = self._paused.get(account_id)
        if paused is not None:
            if paused > time.monotonic():
                return
            del self._paused[account_id]
        amount = math.ceil(need * self._headroom)
        spare = Spare(account_id, new_id(id_prefix, epoch), amount, epoch)
        self._taking[slot] = asyncio.create_task(self._reserve(slot, spare), name="spare")

    async def give_back(self, account_id: str, *, pause: bool = True) -> None:
        """Give back the account's spares: those held (waiting for those being reserved or
        given back already), and the excess of those its running requests took. With
        `pause` (the account is short of money), it gets no spare for `idle_s`."""
        if pause:
            self._pause(account_id)
        for slot in [slot for slot in self._taking if slot[0] == account_id]:
            taking = self._taking.get(slot)
            if taking is not None:
                await asyncio.shield(taking)
        held = [self._held.pop(slot) for slot in list(self._held) if slot[0] == account_id]
        if held:
            _GIVEN_BACK.inc(len(held))
            self._release_soon(held)
        releases = [task for task, accounts in self._releases.items() if account_id in accounts]
        await asyncio.gather(*releases)
        taken = self._taken.pop(account_id, {})
        if taken:
            try:
                await self._shrink_escrow({key: need for key, (need, _) in taken.items()})
            except Exception as exc:
                log.warning("lowering the spares in use of %s failed: %r", account_id, exc)
        if pause:
            # From now: the waits above may have outlasted the first pause.
            self._pause(account_id)

    async def close(self) -> None:
        """Reserve no more and give every spare back (before the pool closes)."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await asyncio.gather(*self._taking.values(), return_exceptions=True)
        held, self._held = list(self._held.values()), {}
        if held:
            await self._release(held)
        await asyncio.gather(*self._releases, return_exceptions=True)

    @property
    def held(self) -> int:
        return len(self._held)

    def _pause(self, account_id: str) -> None:
        self._paused[account_id] = time.monotonic() + self._idle_s

    async def _reserve(self, slot: _Slot, spare: Spare) -> None:
        try:
            held = await self._reserve_escrow(spare.account_id, spare.inference_id, spare.amount)
        except BaseException as exc:
            # Perhaps taken all the same (an answer lost after the commit): given back,
            # which changes nothing if it was not.
            log.warning("reserving a spare for %s failed: %r", spare.account_id, exc)
            self._release_soon([spare])
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._taking.pop(slot, None)
        if not held:
            self._pause(spare.account_id)  # short of money: requests reserve their own
            return
        spare = replace(spare, held_at=time.monotonic())
        if self._closed:
            await self._release([spare])
        else:
            self._held[slot] = spare

    def _release_soon(self, spares: list[Spare]) -> None:
        task = asyncio.create_task(self._release(spares), name="spare-release")
        self._releases[task] = frozenset(spare.account_id for spare in spares)
        task.add_done_callback(self._forget_release)

    def _forget_release(self, task: asyncio.Task[None]) -> None:
        self._releases.pop(task, None)

    async def _release(self, spares: list[Spare]) -> None:
        try:
            await self._release_escrow([spare.inference_id for spare in spares])
        except Exception as exc:
            # Still held: the settler gives back reservations no request names.
            log.warning("giving back %d spares failed: %r", len(spares), exc)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(self._idle_s / 2, 0.05))
            now = time.monotonic()
            self._paused = {a: until for a, until in self._paused.items() if until > now}
            cutoff = now - self._idle_s
            expired = [slot for slot, spare in self._held.items() if spare.held_at <= cutoff]
            if expired:
                # One statement for all of them.
                _EXPIRED.inc(len(expired))
                self._release_soon([self._held.pop(slot) for slot in expired])
            self._forget_finished(now - self._lifetime_s)

    def _forget_finished(self, before: float) -> None:
        """Spares taken by requests that have surely ended (charged or released) by now."""
        for account_id, taken in list(self._taken.items()):
            for key in [key for key, (_, at) in taken.items() if at < before]:
                del taken[key]
            if not taken:
                del self._taken[account_id]
