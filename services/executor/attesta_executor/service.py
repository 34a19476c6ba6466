"""The executor as one object: engine, consumer and heartbeat, started and stopped
together. `main()` runs it as a process; tests and the end-to-end suite run it in-process,
handing in an engine they loaded once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial
from types import TracebackType

from attesta_common.backlog import poll_backlog
from attesta_common.broker import ensure_streams, make_broker
from attesta_common.canary import load_canary_key
from attesta_common.genesis import Genesis, ModelSpec
from attesta_common.keys import SigningKey
from attesta_common.ops_server import OpsServer, start_ops_server
from attesta_common.record_publisher import RecordPublisher
from attesta_common.roles import Role
from attesta_common.subjects import RECORDS_STREAM
from attesta_engine.port import Engine
from attesta_engine.vllm_options import EngineLoadError
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from attesta_executor.canary import CanarySpoiler
from attesta_executor.consumer import PullConsumer
from attesta_executor.durable import declare_consumer, redeclare_consumer
from attesta_executor.engine_choice import build_engine
from attesta_executor.engine_runner import EngineRunner
from attesta_executor.execution import Execution
from attesta_executor.handlers import RequestHandler, consumer_config
from attesta_executor.heartbeat import Heartbeat
from attesta_executor.outbox import Outbox
from attesta_executor.recent import RecentRecords
from attesta_executor.settings import ExecutorSettings

log = logging.getLogger(__name__)

# After abandoning, generations stop at their next token: a fraction of a second.
_ABANDON_WAIT_S = 2.0


class StartupError(RuntimeError):
    """The configuration cannot serve: wrong key, unknown model, engine mismatch."""


def served_model(genesis: Genesis, key: SigningKey, model: str) -> ModelSpec:
    if not genesis.has_role(key.address, Role.EXECUTOR):
        raise StartupError(f"key {key.address} does not hold the executor role in genesis")
    spec = genesis.model(model)
    if spec is None:
        known = ", ".join(m.name for m in genesis.models) or "none"
        raise StartupError(f"model {model!r} is not in genesis (served models: {known})")
    return spec


class Executor:
    """`start()` then `stop()`, or `async with`. Ready once the engine is loaded and the
    consumer runs; `engine` may be handed in already loaded (it must match genesis)."""

    def __init__(
        self,
        settings: ExecutorSettings,
        genesis: Genesis,
        key: SigningKey,
        *,
        engine: Engine | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.settings = settings
        self.genesis = genesis
        self.key = key
        self.model = served_model(genesis, key, settings.model)
        self.engine = engine
        self.ready = False
        self.broker = make_broker(settings.nats_url, tracer_provider)
        self._records = RecordPublisher(self.broker, tracer_provider)
        self._tracer = trace.get_tracer("attesta.executor", tracer_provider=tracer_provider)
        self._backlog: asyncio.Task[None] | None = None
        # Marks the requests in hand in progress (RequestHandler.keep_alive), from start().
        self._keep_alive: asyncio.Task[None] | None = None
        self.handler = RequestHandler(genesis, key.address, self.model.name, settings)
        self.heartbeat = Heartbeat(
            self.broker,
            key,
            models=[self.model.name],
            capacity=settings.capacity,
            in_flight=lambda: self.handler.in_flight,
            interval_s=settings.heartbeat_interval_s,
        )
        # Pulls this executor's requests once the broker is connected (start()).
        self._consumer: PullConsumer | None = None
        # Set on shutdown once the grace period is over: generations stop at their next
        # token and their requests go back to the stream.
        self._abandon = threading.Event()
        self._runner: EngineRunner | None = None
        # An engine loaded here is closed here (vLLM's engine process); one handed in is not.
        self._owns_engine = engine is None
        # /health/live, /health/ready and /metrics; None when no ops port is configured.
        self.ops_server: OpsServer | None = None
        self._canaries = (
            CanarySpoiler(load_canary_key(settings.canary_key_path))
            if settings.canary_key_path is not None
            else None
        )

    @property
    def address(self) -> str:
        return self.key.address

    async def _load_engine(self) -> Engine:
        if self.engine is None:
            log.info("loading %s on the %s engine", self.model.name, self.settings.engine)
            try:
                self.engine = await asyncio.to_thread(build_engine, self.settings, self.model)
            except EngineLoadError as exc:
                raise StartupError(str(exc)) from exc
        if self.engine.model_name != self.model.name or self.engine.top_k != self.model.top_k:
            raise StartupError(
                f"engine serves {self.engine.model_name} with top_k {self.engine.top_k};"
                f" genesis wants {self.model.name} with top_k {self.model.top_k}"
            )
        return self.engine

    def readiness(self) -> tuple[bool, str]:
        """Ready to take requests: the engine is loaded and the broker is connected."""
        missing = []
        if self.handler.closing:
            missing.append("shutting down")
        if self._runner is None:
            missing.append("engine not loaded")
        if not self._broker_connected():
            missing.append("broker not connected")
        if missing:
            return False, "; ".join(missing)
        return True, f"serving {self.model.name}"

    def _broker_connected(self) -> bool:
        try:
            return bool(self.broker.connection.is_connected)
        except Exception:
            # No connection yet (before start) reads as not connected.
            return False

    def _early_end(self) -> bool:
        return self.handler.in_flight <= self.settings.early_end_max_in_flight

    async def start(self) -> None:
        # First, so that liveness answers (and readiness says why not) while the model loads.
        self.ops_server = await start_ops_server(
            self.settings.ops_host, self.settings.ops_port, self.readiness
        )
        engine = await self._load_engine()
        self._runner = EngineRunner(engine)
        self.handler.execution = Execution(
            key=self.key,
            model=self.model,
            runner=self._runner,
            outbox=Outbox(
                self.broker,
                self.key,
                self._records,
                early_end=self._early_end,
            ),
            recent=RecentRecords(self.settings.recent_records),
            abandon=self._abandon,
            tracer=self._tracer,
            canaries=self._canaries,
        )
        await self.broker.connect()
        js = self.broker.connection.jetstream()
        await ensure_streams(js)
        # Created (or updated: a changed capacity) here rather than on first subscribe,
        # which keeps an existing consumer's old settings.
        config = consumer_config(self.settings, self.address)
        await declare_consumer(js, config)
        durable = str(config.durable_name)
        self._backlog = asyncio.create_task(
            poll_backlog(js, RECORDS_STREAM, durable), name="executor-backlog"
        )
        self.heartbeat.start()
        await self.broker.start()
        self._keep_alive = asyncio.create_task(
            self.handler.keep_alive(), name="executor-keep-alive"
        )

        self._consumer = PullConsumer(
            self.broker.connection,
            RECORDS_STREAM,
            durable,
            self.settings.capacity,
            self.handler.handle,
            self._tracer,
            pull_expires_s=self.settings.pull_expires_s,
            ensure_consumer=partial(redeclare_consumer, js, config),
        )
        await self._consumer.start()
        self.ready = True
        log.info(
            "executor %s serving %s with capacity %d",
            self.address,
            self.model.name,
            self.settings.capacity,
        )

    async def stop(self) -> None:
        """Stop taking requests, let those in flight finish (bounded by shutdown_grace_s),
        abandon the rest to redelivery, then stop beating and disconnect."""
        self.ready = False
        self.handler.closing = True
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop_requesting()
        if not await self.handler.wait_idle(self.settings.shutdown_grace_s):
            log.warning("abandoning %d requests still in flight", self.handler.in_flight)
            self._abandon.set()
            await self.handler.wait_idle(_ABANDON_WAIT_S)
        if consumer is not None:
            # Requests delivered until the pull request lapses are handed back (closing).
            await consumer.close()
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            self._keep_alive = None
        await self.heartbeat.stop()
        if self._backlog is not None:
            self._backlog.cancel()
            self._backlog = None
        await self.broker.stop()
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        close = getattr(self.engine, "close", None)
        if self._owns_engine and callable(close):
            await asyncio.to_thread(close)
            self.engine = None
        ops_server, self.ops_server = self.ops_server, None
        if ops_server is not None:
            await ops_server.stop()

    async def __aenter__(self) -> Executor:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
