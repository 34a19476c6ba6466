"""The API-key cache: found keys are kept for their TTL, unknown keys never."""

from __future__ import annotations

from typing import Any

from attesta_gateway.accounts import hash_key
from attesta_gateway.key_cache import KeyCache


class CountingDb:
    """Answers `account_by_key`'s query from a dict of key hash -> row; counts queries."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.queries = 0

    async def fetchrow(self, _sql: str, key_hash: str) -> dict[str, Any] | None:
        self.queries += 1
        return self.rows.get(key_hash)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _db_with(key: str) -> CountingDb:
    db = CountingDb()
    db.rows[hash_key(key)] = {"id": "acct-1", "name": "alice", "balance": 10}
    return db


async def test_a_found_key_is_asked_once_per_ttl() -> None:
    db, clock = _db_with("sk-a"), Clock()
    cache = KeyCache(5.0, clock=clock)
    first = await cache.account(db, "sk-a")  # type: ignore[arg-type]
    assert first is not None and first.id == "acct-1"
    assert await cache.account(db, "sk-a") == first  # type: ignore[arg-type]
    assert db.queries == 1
    clock.now += 5.0
    del db.rows[hash_key("sk-a")]  # disabled or deleted meanwhile
    assert await cache.account(db, "sk-a") is None  # type: ignore[arg-type]
    assert db.queries == 2


async def test_unknown_keys_are_not_remembered() -> None:
    db, clock = CountingDb(), Clock()
    cache = KeyCache(5.0, clock=clock)
    assert await cache.account(db, "sk-new") is None  # type: ignore[arg-type]
    db.rows[hash_key("sk-new")] = {"id": "acct-2", "name": "bob", "balance": 0}
    found = await cache.account(db, "sk-new")  # type: ignore[arg-type]
    assert found is not None and found.id == "acct-2"  # works at once once created


async def test_ttl_zero_always_asks_and_size_is_bounded() -> None:
    db = _db_with("sk-a")
    uncached = KeyCache(0.0)
    for _ in range(3):
        await uncached.account(db, "sk-a")  # type: ignore[arg-type]
    assert db.queries == 3
    db = CountingDb()
    for i in range(5):
        db.rows[hash_key(f"sk-{i}")] = {"id": f"acct-{i}", "name": "n", "balance": 0}
    small = KeyCache(60.0, max_entries=2)
    for i in range(5):
        await small.account(db, f"sk-{i}")  # type: ignore[arg-type]
    assert db.queries == 5
    await small.account(db, "sk-4")  # type: ignore[arg-type]  # most recent: still held
    await small.account(db, "sk-0")  # type: ignore[arg-type]  # evicted: asked again
    assert db.queries == 6
