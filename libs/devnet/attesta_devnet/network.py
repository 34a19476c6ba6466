"""The whole network on one machine: infrastructure, keys, genesis, migrations, a dev API
key and every service as a process. Used by `make run` and by the end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from attesta_common.db import create_pool, migrate
from attesta_common.genesis import Genesis

from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
from attesta_devnet.nats_server import NatsServer
from attesta_devnet.ports import free_port
from attesta_devnet.postgres_cluster import PostgresCluster
from attesta_devnet.processes import ServiceProcess, script, stop_all

log = logging.getLogger(__name__)

MIGRATIONS = (
    ("common", "attesta_common"),
    ("chain_writer", "attesta_chain_writer"),
    ("settler", "attesta_settler"),
)


@dataclass
class NetworkConfig:
    data_dir: Path
    executors: int = 2
    validators: int = 2
    epoch_seconds: float = 60.0
    settle_grace_seconds: float = 10.0
    gateway_port: int = 8000
    nats_url: str | None = None
    database_url: str | None = None
    dev_api_key: str = "sk-attesta-dev"
    dev_balance: int = 100_000_000
    # Canaries (docs/verification.md): the chance a real request is followed by one; 0 is
    # off. On, executor-0 is the network's canary executor and holds the canary key.
    canary_rate: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)


async def _ensure_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


class Network:
    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.services: list[ServiceProcess] = []
        self._nats: NatsServer | None = None
        self._postgres: PostgresCluster | None = None
        self.nats_url = ""
        self.database_url = ""
        self.gateway_url = f"http://127.0.0.1:{config.gateway_port}"
        self.keys: DevnetKeys | None = None
        self.genesis: Genesis | None = None

    @property
    def genesis_path(self) -> Path:
        return self.config.data_dir / "genesis.json"

    @property
    def canary_key_path(self) -> Path:
        return self.config.data_dir / "keys" / "canary.key"

    def _canary_env(self) -> tuple[dict[str, str], dict[str, str]]:
        """(the gateway's, the canary executor's) canary settings; empty when off."""
        if self.config.canary_rate <= 0:
            return {}, {}
        assert self.keys is not None
        if not self.canary_key_path.exists():
            self.canary_key_path.write_text(secrets.token_hex(32))
            self.canary_key_path.chmod(0o600)
        key = {"ATTESTA_CANARY_KEY_PATH": str(self.canary_key_path)}
        gateway = {
            **key,
            "ATTESTA_CANARY_EXECUTORS": json.dumps([self.keys.executors[0].address]),
            "ATTESTA_CANARY_RATE": str(self.config.canary_rate),
        }
        return gateway, key

    def _prepare_identity(self) -> None:
        keys_dir = self.config.data_dir / "keys"
        if self.genesis_path.exists() and keys_dir.exists():
            self.keys = DevnetKeys.load(keys_dir)
            self.genesis = Genesis.load(self.genesis_path)
            return
        self.keys = DevnetKeys.generate(self.config.executors, self.config.validators)
        self.keys.save(keys_dir)
        self.genesis = build_genesis(
            self.keys,
            epoch_seconds=self.config.epoch_seconds,
            settle_grace_seconds=self.config.settle_grace_seconds,
        )
        self.genesis.save(self.genesis_path)

    def _start_infrastructure(self) -> None:
        if self.config.nats_url:
            self.nats_url = self.config.nats_url
        else:
            self._nats = NatsServer(self.config.data_dir / "nats")
            self._nats.start()
            self.nats_url = self._nats.url
        if self.config.database_url:
            admin_url = self.config.database_url
        else:
            self._postgres = PostgresCluster(self.config.data_dir / "postgres", port=free_port())
            self._postgres.start()
            admin_url = self._postgres.url
        self.database_url = asyncio.run(self._prepare_database(admin_url))

    async def _prepare_database(self, admin_url: str) -> str:
        url = admin_url
        if self._postgres is not None:
            url = await _ensure_database(admin_url, "attesta")
        pool = await create_pool(url, max_size=2)
        try:
            for component, package in MIGRATIONS:
                await migrate(pool, component, package)
        finally:
            await pool.close()
        return url

    def _env(self, key_name: str) -> dict[str, str]:
        return {
            "ATTESTA_NATS_URL": self.nats_url,
            "ATTESTA_DATABASE_URL": self.database_url,
            "ATTESTA_GENESIS_PATH": str(self.genesis_path),
            "ATTESTA_KEY_PATH": str(self.config.data_dir / "keys" / f"{key_name}.key"),
            "PYTHONUNBUFFERED": "1",
            **self.config.extra_env,
        }

    def _service(self, name: str, command: str, key_name: str, **env: str) -> ServiceProcess:
        # Every service but the gateway (which serves them on its API port) gets its own
        # /health/live, /health/ready and /metrics port.
        ops = {} if command == "attesta-gateway" else {"ATTESTA_OPS_PORT": str(free_port())}
        return ServiceProcess(
            name=name,
            command=[script(command)],
            env={**self._env(key_name), **ops, **env},
            log_path=self.config.data_dir / "logs" / f"{name}.log",
        )

    def _plan(self) -> list[ServiceProcess]:
        assert self.keys is not None
        threads = os.environ.get("ATTESTA_TORCH_THREADS", "1")
        gateway_canaries, executor_canaries = self._canary_env()
        plan = [
            self._service("chain-writer", "attesta-chain-writer", "chain-writer"),
            self._service("epoch-settler", "attesta-settler", "settler"),
            *(
                self._service(
                    f"executor-{i}",
                    "attesta-executor",
                    f"executor-{i}",
                    ATTESTA_TORCH_THREADS=threads,
                    **(executor_canaries if i == 0 else {}),
                )
                for i in range(len(self.keys.executors))
            ),
            *(
                self._service(
                    f"validator-{i}",
                    "attesta-validator",
                    f"validator-{i}",
                    ATTESTA_TORCH_THREADS=threads,
                )
                for i in range(len(self.keys.validators))
            ),
            self._service(
                "api-gateway",
                "attesta-gateway",
                "gateway",
                ATTESTA_HOST="127.0.0.1",
                ATTESTA_PORT=str(self.config.gateway_port),
                **gateway_canaries,
            ),
        ]
        return plan

    def seed_dev_key(self) -> None:
        from attesta_gateway.accounts import ensure_api_key

        asyncio.run(
            ensure_api_key(
                self.database_url, "dev", self.config.dev_api_key, self.config.dev_balance
            )
        )

    def start(self, *, ready_timeout_s: float = 180.0) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_identity()
        self._start_infrastructure()
        self._prepare_model()
        self.seed_dev_key()
        self.services = self._plan()
        for service in self.services:
            service.start()
        self.wait_ready(ready_timeout_s)

    def _prepare_model(self) -> None:
        from attesta_engine.model_store import ensure_reference_model

        # Converting before the services start shows one progress bar, not four.
        ensure_reference_model()

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [s for s in self.services if not s.alive]
            if dead:
                raise RuntimeError(f"{dead[0].name} exited during start-up:\n{dead[0].log_tail()}")
            if self._gateway_serves_model():
                return
            time.sleep(0.5)
        raise RuntimeError("the network did not become ready in time")

    def _gateway_serves_model(self) -> bool:
        assert self.keys is not None
        try:
            health = httpx.get(f"{self.gateway_url}/health", timeout=2)
            models = httpx.get(
                f"{self.gateway_url}/v1/models",
                headers={"Authorization": f"Bearer {self.config.dev_api_key}"},
                timeout=2,
            )
        except httpx.HTTPError:
            return False
        return (
            health.status_code == 200
            and models.status_code == 200
            and bool(models.json().get("data"))
        )

    def ops_url(self, name: str) -> str | None:
        port = self.service(name).env.get("ATTESTA_OPS_PORT")
        return f"http://127.0.0.1:{port}" if port else None

    def service(self, name: str) -> ServiceProcess:
        return next(s for s in self.services if s.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL, no graceful shutdown: what a crash or an OOM kill looks like."""
        service = self.service(name)
        if service.process is not None and service.alive:
            service.process.kill()
            service.process.wait()

    def restart(self, name: str) -> None:
        self.kill(name)
        self.service(name).start()

    def stop(self) -> None:
        stop_all(self.services)
        self.services = []
        if self._nats is not None:
            self._nats.stop()
        if self._postgres is not None:
            self._postgres.stop()
