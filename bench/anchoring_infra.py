"""Infrastructure for the anchoring benchmark: a fresh nats-server and Postgres database
(DATABASE_URL's server when set, else a throwaway cluster), and pre-signed records.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import ValidatorSeedCommitted
from attesta_common.keys import SigningKey
from attesta_devnet.nats_server import NatsServer
from attesta_devnet.postgres_cluster import PostgresCluster
from tqdm import tqdm


@contextlib.asynccontextmanager
async def infrastructure() -> AsyncIterator[tuple[str, str]]:
    """(nats_url, database_url) of servers that live as long as the context."""
    folder = Path(tempfile.mkdtemp(prefix="attesta-bench-anchoring-"))
    nats = NatsServer(folder / "nats")
    cluster = None
    admin_url = os.environ.get("DATABASE_URL")
    try:
        nats.start()
        if not admin_url:
            cluster = PostgresCluster(folder / "pg")
            cluster.start()
            admin_url = cluster.url
        name = f"attesta_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        try:
            yield nats.url, f"{admin_url.rpartition('/')[0]}/{name}"
        finally:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    finally:
        if cluster is not None:
            cluster.stop()
        nats.stop()
        shutil.rmtree(folder, ignore_errors=True)


def signed_records(keys: list[SigningKey], count: int) -> list[SignedRecord]:
    """Distinct, validly signed records (seed commitments: small, like verdicts' envelopes)."""
    return [
        sign_event(
            ValidatorSeedCommitted(
                validator=keys[i % len(keys)].address, epoch=i, seed_hash=secrets.token_hex(32)
            ),
            keys[i % len(keys)],
        )
        for i in tqdm(range(count), desc="signing", unit="rec", leave=False)
    ]
