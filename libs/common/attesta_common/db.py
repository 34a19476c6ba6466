"""Postgres pool and migrations.

Each component keeps its own numbered SQL files in its package's `migrations/` folder;
`migrate` applies the missing ones in order under an advisory lock, so services that
start together do not race.
"""

from __future__ import annotations

import re
from importlib import resources

import asyncpg

_MIGRATION_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")
_LOCK_KEY = 0x41747465  # "Atte": one advisory lock for all migration runs

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component text NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, in place of asyncpg's reset query.

    asyncpg's default runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release, a second round trip per query (about a sixth of the gateway's CPU at
    saturation, docs/overhead.md). No service holds session state: advisory locks are
    transaction-scoped (`pg_advisory_xact_lock`), there is no LISTEN, no session SET and
    no cursor outside a transaction. An open transaction, the one thing an aborted caller
    can leave, asyncpg rolls back itself before calling this hook.
    """


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, reset=_keep_session)
    if pool is None:  # pragma: no cover - asyncpg returns None only when awaited wrongly
        raise RuntimeError("asyncpg did not create a pool")
    return pool


def packaged_migrations(package: str) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped in `package.migrations`."""
    folder = resources.files(package).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(pool: asyncpg.Pool, component: str, package: str) -> list[str]:
    """Apply `package`'s pending migrations; returns the names applied now."""
    applied_now = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_BOOKKEEPING)
        done = {
            row["version"]
            for row in await conn.fetch(
                "SELECT version FROM schema_migrations WHERE component = $1", component
            )
        }
        for version, name, sql in packaged_migrations(package):
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                component,
                version,
                name,
            )
            applied_now.append(name)
    return applied_now
