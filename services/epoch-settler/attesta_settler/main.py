"""The settler process: projector and scheduler behind one projection lock, with the ops
endpoints (liveness, readiness, metrics) when a port is set.

`Settler` is the whole service as an object (tests run it in-process); `main()` builds it
from the environment and runs it until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import asyncpg
import nats
from attesta_common import event_loop, heap
from attesta_common.broker import ensure_streams
from attesta_common.db import create_pool, migrate
from attesta_common.db_probe import DatabaseProbe
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.ops_server import OpsServer, start_ops_server
from attesta_common.roles import Role
from attesta_common.telemetry import setup_logging, setup_tracing
from nats.aio.client import Client as NatsClient
from opentelemetry.trace import NoOpTracerProvider, TracerProvider

from attesta_settler.positions import hold_projection_lock
from attesta_settler.projector import Projector
from attesta_settler.scheduler import Scheduler
from attesta_settler.settings import SettlerSettings

log = logging.getLogger(__name__)


class Settler:
    def __init__(
        self,
        *,
        nats_url: str,
        database_url: str,
        genesis: Genesis,
        key: SigningKey,
        consumer: str = "settler",
        interval_s: float = 1.0,
        canary_reveal_wait_s: float = 30.0,
        tracer_provider: TracerProvider | None = None,
        ops_host: str = "127.0.0.1",
        ops_port: int | None = None,
    ) -> None:
        if not genesis.has_role(key.address, Role.SETTLER):
            raise ValueError(f"key {key.address} does not hold the settler role in genesis")
        self._nats_url = nats_url
        self._database_url = database_url
        self._genesis = genesis
        self._key = key
        self._consumer = consumer
        self._interval_s = interval_s
        self._canary_reveal_wait_s = canary_reveal_wait_s
        self._tracer = (tracer_provider or NoOpTracerProvider()).get_tracer("attesta_settler")
        self._pool: asyncpg.Pool | None = None
        self._nc: NatsClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._active = asyncio.Event()
        self._projector: Projector | None = None
        self._probe: DatabaseProbe | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._ops_host, self._ops_port = ops_host, ops_port
        # The ops endpoints, when `ops_port` is set (0 picks a free port: see `ops.port`).
        self.ops: OpsServer | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("settler not started")
        return self._pool

    def readiness(self) -> tuple[bool, str]:
        """Ready while NATS is connected, this instance holds the projection lock and its
        projector follows the stream, and the database answered recently. A settler
        waiting for another's lock is alive but not ready."""
        problems = []
        if self._nc is None or not self._nc.is_connected:
            problems.append("NATS not connected")
        if self._task is None or self._task.done():
            problems.append("not running")
        elif not self._active.is_set():
            problems.append("waiting for the projection lock")
        elif self._projector is None or not self._projector.following:
            problems.append("projector not following the stream")
        if self._probe is None:
            problems.append("database not connected")
        else:
            db_ok, db_detail = self._probe.status()
            if not db_ok:
                problems.append(db_detail)
        return not problems, "; ".join(problems) or "ready"

    async def start(self) -> None:
        """Connect and migrate, then project and settle in the background once this
        instance holds the projection lock (a second settler waits for it)."""
        self.ops = await start_ops_server(self._ops_host, self._ops_port, self.readiness)
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self._pool = await create_pool(self._database_url)
        await migrate(self._pool, "common", "attesta_common")
        await migrate(self._pool, "settler", "attesta_settler")
        self._nc = await nats.connect(
            self._nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        await ensure_streams(self._nc.jetstream())
        self._probe = DatabaseProbe(self._pool)
        self._probe.mark_ok()
        self._probe_task = asyncio.create_task(self._probe.run(), name="settler-db-probe")
        self._task = asyncio.create_task(self._run(), name="settler")

    async def wait_active(self) -> None:
        """Until this instance holds the lock and its projector and scheduler run."""
        await self._active.wait()

    async def _run(self) -> None:
        lock = await hold_projection_lock(self._database_url, self._consumer)
        try:
            js = self.nats.jetstream()
            projector = Projector(js, self.pool, self._genesis, self._consumer, self._tracer)
            self._projector = projector
            scheduler = Scheduler(
                js,
                self.pool,
                self._genesis,
                self._key,
                self._consumer,
                self._tracer,
                interval_s=self._interval_s,
                canary_reveal_wait_s=self._canary_reveal_wait_s,
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(projector.run(), name="settler-projector")
                group.create_task(scheduler.run(), name="settler-scheduler")
                self._active.set()
        finally:
            self._active.clear()
            self._projector = None
            await lock.close()

    @property
    def nats(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("settler not started")
        return self._nc

    async def run_until_done(self) -> None:
        """Wait for the background work; it only ends by `stop()` or a crash."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Waits without raising: a crash is reported by `run_until_done`, not here.
            await asyncio.wait({task})
        probe, self._probe_task = self._probe_task, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        if self._nc is not None:
            await self._nc.close()
            self._nc = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        self._probe = None
        if self.ops is not None:
            await self.ops.stop()
            self.ops = None


async def _serve(settings: SettlerSettings, genesis: Genesis, key: SigningKey) -> None:
    settler = Settler(
        nats_url=settings.nats_url,
        database_url=settings.database_url,
        genesis=genesis,
        key=key,
        consumer=settings.consumer,
        interval_s=settings.scheduler_interval_s,
        canary_reveal_wait_s=settings.canary_reveal_wait_s,
        tracer_provider=setup_tracing("attesta-settler"),
        ops_host=settings.ops_host,
        ops_port=settings.ops_port,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await settler.start()
    heap.settle()
    running = asyncio.create_task(settler.run_until_done())
    stop_requested = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({running, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_requested.cancel()
        await settler.stop()
        log.info("settler stopped")
    if running.done() and not running.cancelled() and running.exception() is not None:
        log.error("settler failed", exc_info=running.exception())
        raise SystemExit(1)


def main() -> None:
    settings = SettlerSettings()
    setup_logging(settings.log_level)
    genesis = Genesis.load(settings.genesis_path)
    key = SigningKey.load(settings.key_path)
    if not genesis.has_role(key.address, Role.SETTLER):
        sys.exit(
            f"attesta-settler: key {settings.key_path} ({key.address}) does not hold the "
            f"settler role in {settings.genesis_path}"
        )
    event_loop.run(_serve(settings, genesis, key), settings.event_loop)


if __name__ == "__main__":
    main()
