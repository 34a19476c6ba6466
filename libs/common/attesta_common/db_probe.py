"""Postgres reachability for readiness, without querying from the readiness check itself.

Readiness is a synchronous callable answered on the event loop, so it must not wait on
the database. A probe task makes one round trip every `interval_s` instead and records
when the last one succeeded; readiness only asks whether that is recent enough.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

Probe = Callable[[asyncpg.Pool], Awaitable[object]]


async def select_one(pool: asyncpg.Pool) -> object:
    return await pool.fetchval("SELECT 1")


class DatabaseProbe:
    def __init__(
        self,
        pool: asyncpg.Pool,
        probe: Probe = select_one,
        *,
        interval_s: float = 2.0,
        timeout_s: float = 5.0,
        stale_after_s: float = 15.0,
    ) -> None:
        self._pool = pool
        self._probe = probe
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._stale_after_s = stale_after_s
        self._last_ok: float | None = None
        self._failing = False

    def mark_ok(self) -> None:
        """Any successful round trip made elsewhere counts as well."""
        self._last_ok = time.monotonic()

    async def check(self) -> bool:
        """One round trip; True when it succeeded."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._probe(self._pool)
        except Exception as exc:
            if not self._failing:
                log.warning("database probe failed: %r", exc)
                self._failing = True
            return False
        if self._failing:
            log.info("database probe succeeds again")
            self._failing = False
        self.mark_ok()
        return True

    async def run(self) -> None:
        """Probe until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(self._interval_s)

    def status(self) -> tuple[bool, str]:
        if self._last_ok is None:
            return False, "database not reached yet"
        age = time.monotonic() - self._last_ok
        if age > self._stale_after_s:
            return False, f"database last reached {age:.0f}s ago"
        return True, "database reachable"
