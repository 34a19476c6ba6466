"""The smallest network a request can cross: NATS, Postgres, the gateway and one executor,
each service its own process as in production. No validator or chain-writer: they work
after the answer is sent and would only compete for the cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from attesta_devnet.network import Network, NetworkConfig
from attesta_devnet.ports import free_port
from attesta_devnet.processes import ServiceProcess

from bench.overhead_profile import ENV

KEY = "sk-attesta-overhead"
REPO = Path(__file__).resolve().parent.parent
# The executor on the instant engine (bench.overhead_executor), from this environment.
INSTANT_EXECUTOR = [sys.executable, "-m", "bench.overhead_executor"]


def _pythonpath() -> str:
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)


class BenchNetwork(Network):
    """`Network` with its service plan replaced; infrastructure, keys, genesis, migrations
    and the API key are prepared by `Network.start` as for `make run`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        executor: list[str] = INSTANT_EXECUTOR,
        executor_env: dict[str, str] | None = None,
        gateway_env: dict[str, str] | None = None,
        capacity: int = 64,
        profile: Path | None = None,
    ) -> None:
        """`executor`: the executor's command line; `capacity`: requests it takes at once
        (the instant engine finishes each at once, so there it only bounds how many
        JetStream delivers ahead); `profile`: a folder where the services open a profiling
        window (overhead_profile)."""
        super().__init__(
            NetworkConfig(
                data_dir=data_dir,
                executors=1,
                validators=1,
                epoch_seconds=3600.0,
                gateway_port=free_port(),
                dev_api_key=KEY,
                nats_url=os.environ.get("NATS_URL"),
                database_url=os.environ.get("DATABASE_URL"),
            )
        )
        self.executor_command = executor
        self.executor_env = executor_env or {}
        self.gateway_env = gateway_env or {}
        self.capacity = capacity
        self.profile = profile

    def _process(self, name: str, command: list[str], key_name: str, **env: str) -> ServiceProcess:
        return ServiceProcess(
            name=name,
            command=command,
            # Whatever PYTHONPATH the bench runs with stays behind the repository (a side by
            # side run of another checkout puts its packages there).
            env={**self._env(key_name), "PYTHONPATH": _pythonpath(), **env},
            log_path=self.config.data_dir / "logs" / f"{name}.log",
        )

    def _plan(self) -> list[ServiceProcess]:
        profile = {ENV: str(self.profile)} if self.profile else {}
        return [
            self._process(
                "executor-0",
                self.executor_command,
                "executor-0",
                ATTESTA_CAPACITY=str(self.capacity),
                ATTESTA_OPS_PORT=str(free_port()),
                **self.executor_env,
                **profile,
            ),
            self._process(
                "api-gateway",
                [sys.executable, "-m", "bench.overhead_gateway"],
                "gateway",
                ATTESTA_HOST="127.0.0.1",
                ATTESTA_PORT=str(self.config.gateway_port),
                **self.gateway_env,
                **profile,
            ),
        ]
