"""Accounts by API key, remembered for a few seconds.

Every request authenticates, and a database round trip per request was a quarter of the
gateway's own time at saturation (docs/overhead.md). Only found keys are kept, so a key
created a moment ago works at once; a disabled account may keep authenticating for up to
`ttl_s`, but cannot spend: the reservation itself checks `NOT disabled` in the same SQL
statement that debits it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from attesta_gateway.accounts import Account, Db, account_by_key, hash_key


class KeyCache:
    def __init__(
        self,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        # By key hash, so no API key is held in memory longer than its request.
        self._entries: OrderedDict[str, tuple[float, Account]] = OrderedDict()

    async def account(self, db: Db, api_key: str) -> Account | None:
        if self.ttl_s <= 0:
            return await account_by_key(db, api_key)
        digest = hash_key(api_key)
        now = self._clock()
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(digest)
            return hit[1]
        account = await account_by_key(db, api_key)
        if account is None:
            self._entries.pop(digest, None)
            return None
        self._entries[digest] = (now + self.ttl_s, account)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return account
