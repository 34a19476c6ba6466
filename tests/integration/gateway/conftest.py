"""The gateway in-process on a free port (uvicorn, real HTTP), over real NATS and Postgres,
with fake executors (gateway_fakes) answering its requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from attesta_common.db import create_pool
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_devnet.ports import free_port
from attesta_gateway.context import ProofLoader
from attesta_gateway.http_protocol import HeadHoldingHttpToolsProtocol
from attesta_gateway.lifespan import migrate_tables
from attesta_gateway.main import create_app
from attesta_gateway.settings import GatewaySettings
from gateway_fakes import Behavior, FakeExecutor, eventually
from gateway_harness import Gateway, StartGateway
from opentelemetry.trace import TracerProvider


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The gateway's tables on the test database, for the escrow's statements alone."""
    pool = await create_pool(database_url, max_size=4)
    await migrate_tables(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def start_gateway(
    tmp_path: Path, nats_url: str, database_url: str, genesis: Genesis, devnet_keys: DevnetKeys
) -> AsyncIterator[StartGateway]:
    """Start the gateway (once per test) with fake executors of the given behaviors."""
    stack = contextlib.AsyncExitStack()
    genesis_path = tmp_path / "genesis.json"
    genesis.save(genesis_path)
    key_path = tmp_path / "gateway.key"
    devnet_keys.gateway.save(key_path)

    async def start(
        behaviors: list[Behavior] | None = None,
        *,
        proof_loader: ProofLoader | None = None,
        tracer_provider: TracerProvider | None = None,
        chunk_delay_s: float = 0.0,
        features: list[str] | None = None,
        **overrides: Any,
    ) -> Gateway:
        behaviors = ["ok", "ok"] if behaviors is None else behaviors
        port = free_port()
        fields: dict[str, Any] = {
            "nats_url": nats_url,
            "database_url": database_url,
            "genesis_path": genesis_path,
            "key_path": key_path,
            "host": "127.0.0.1",
            "port": port,
            "max_body_bytes": 16_384,
            "request_timeout_s": 5.0,
            "shutdown_drain_s": 2.0,
        }
        fields.update(overrides)
        settings = GatewaySettings(**fields)
        app = create_app(settings, proof_loader=proof_loader, tracer_provider=tracer_provider)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
                # As attesta_gateway.main serves it.
                http=HeadHoldingHttpToolsProtocol,
            )
        )
        serving = asyncio.create_task(server.serve())

        async def shutdown() -> None:
            server.should_exit = True
            await serving

        stack.push_async_callback(shutdown)
        async with asyncio.timeout(10):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)

        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        executors = [
            FakeExecutor(
                key,
                genesis,
                behavior=behavior,
                chunk_delay_s=chunk_delay_s,
                features=list(features or []),
            )
            for key, behavior in zip(devnet_keys.executors, behaviors, strict=False)
        ]
        for executor in executors:
            await executor.start(nats_url)
            stack.push_async_callback(executor.stop)
        gateway = Gateway(
            app, f"http://127.0.0.1:{port}", pool, genesis, devnet_keys, executors, shutdown
        )
        await eventually(lambda: len(gateway.ctx.registry.live()) >= len(executors))
        return gateway

    async with stack:
        yield start
