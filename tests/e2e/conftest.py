"""The whole network as processes, the way `make run` starts it, with short epochs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from attesta_devnet.network import Network, NetworkConfig
from attesta_devnet.ports import free_port

E2E_API_KEY = "sk-attesta-e2e"


async def _create_database(admin_url: str) -> str:
    name = f"attesta_e2e_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rpartition('/')[0]}/{name}"


@pytest.fixture(scope="session")
def api_key() -> str:
    return E2E_API_KEY


@pytest.fixture(scope="session")
def network(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    import asyncio

    data_dir: Path = tmp_path_factory.mktemp("devnet")
    config = NetworkConfig(
        data_dir=data_dir,
        executors=2,
        validators=2,
        epoch_seconds=10.0,
        settle_grace_seconds=4.0,
        gateway_port=free_port(),
        database_url=asyncio.run(_create_database(postgres_admin_url)),
        dev_api_key=E2E_API_KEY,
        extra_env={"ATTESTA_TORCH_THREADS": "1"},
    )
    net = Network(config)
    try:
        net.start(ready_timeout_s=240)
        yield net
    finally:
        net.stop()
