"""Entry point and composition root of the validator.

`Validator` runs in-process (tests pass an already-loaded engine); `main()` builds it from
the environment and serves until SIGINT or SIGTERM, the reference model loaded at start
(behind the ops endpoints, which answer from the first moment when a port is set).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import nats.js.errors
from attesta_common import event_loop, heap
from attesta_common.backlog import poll_backlog
from attesta_common.broker import ensure_streams, make_broker
from attesta_common.events import CheckResults, InferenceFinished, InferenceRequested
from attesta_common.genesis import Genesis, ModelSpec
from attesta_common.keys import SigningKey
from attesta_common.ops_server import OpsServer, start_ops_server
from attesta_common.record_publisher import RecordPublisher
from attesta_common.roles import Role
from attesta_common.subjects import EPOCH_SETTLED, RECORDS_STREAM, seed_committed
from attesta_common.telemetry import setup_logging, setup_tracing
from attesta_engine.loader import load_reference_engine
from nats.js import JetStreamContext
from opentelemetry.trace import TracerProvider

from attesta_validator.check import CheckingEngine, check_inference
from attesta_validator.handlers import ValidatorHandlers
from attesta_validator.reputation import ReputationBook
from attesta_validator.selection import SeedCommitments
from attesta_validator.settings import ValidatorSettings
from attesta_validator.subscribers import register_subscribers

log = logging.getLogger(__name__)


class ValidatorConfigError(RuntimeError):
    """The configuration cannot make a working validator (wrong key, unknown model)."""


def served_model(genesis: Genesis, address: str, model_name: str) -> ModelSpec:
    """The model to check with; refuses a key that genesis does not make a validator."""
    if not genesis.has_role(address, Role.VALIDATOR):
        raise ValidatorConfigError(
            f"key {address} does not hold the validator role in genesis; "
            "set ATTESTA_KEY_PATH to a validator key"
        )
    model = genesis.model(model_name)
    if model is None:
        known = ", ".join(m.name for m in genesis.models) or "none"
        raise ValidatorConfigError(f"model {model_name!r} is not in genesis (known: {known})")
    return model


class Validator:
    """The validator service in one object: `await start()`, later `await stop()`. Without
    an `engine` the reference model is loaded by `start()`."""

    def __init__(
        self,
        settings: ValidatorSettings,
        *,
        genesis: Genesis,
        key: SigningKey,
        engine: CheckingEngine | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.model = served_model(genesis, key.address, settings.model)
        self.address = key.address
        self._settings = settings
        self._engine = engine
        # One check at a time in one thread: the engine serialises its forward passes
        # anyway, and the event loop stays free for heartbeats and in-progress acks.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attesta-check")
        self._broker = make_broker(settings.nats_url, tracer_provider)
        self._handlers = ValidatorHandlers(
            key=key,
            genesis=genesis,
            model=self.model,
            records=RecordPublisher(self._broker, tracer_provider),
            settings=settings,
            run_check=self._run_check,
            reputations=ReputationBook(),
            commitments=SeedCommitments(),
        )
        register_subscribers(self._broker, self._handlers, settings)
        self._reveal_interval_s = settings.reveal_interval_s
        self._reveals: asyncio.Task[None] | None = None
        self._backlog: asyncio.Task[None] | None = None
        self._stopping = False
        # /health/live, /health/ready and /metrics; None when no ops port is configured.
        self.ops_server: OpsServer | None = None

    def readiness(self) -> tuple[bool, str]:
        """Ready to check: the reference model is loaded and the broker is connected."""
        missing = []
        if self._stopping:
            missing.append("shutting down")
        if self._engine is None:
            missing.append("engine not loaded")
        if not self._broker_connected():
            missing.append("broker not connected")
        if missing:
            return False, "; ".join(missing)
        return True, f"checking {self.model.name}"

    def _broker_connected(self) -> bool:
        try:
            return bool(self._broker.connection.is_connected)
        except Exception:
            # No connection yet (before start) reads as not connected.
            return False

    async def _run_check(
        self, request: InferenceRequested, finished: InferenceFinished, signer_public_key: str
    ) -> tuple[CheckResults, list[str]]:
        engine = self._engine
        if engine is None:
            raise RuntimeError("the reference engine is not loaded")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            lambda: check_inference(
                engine,
                self.model,
                request,
                finished,
                signer_public_key=signer_public_key,
            ),
        )

    async def start(self) -> None:
        # First, so that liveness answers (and readiness says why not) while the model loads.
        self.ops_server = await start_ops_server(
            self._settings.ops_host, self._settings.ops_port, self.readiness
        )
        if self._engine is None:
            log.info("loading the reference model %s", self.model.name)
            self._engine = await asyncio.to_thread(
                load_reference_engine,
                self.model,
                cache_dir=self._settings.model_cache_dir,
                threads=self._settings.torch_threads,
            )
        connection = await self._broker.connect()
        js = connection.jetstream()
        await ensure_streams(js)
        await self._prime(js)
        await self._broker.start()
        self._reveals = asyncio.create_task(self._reveal_loop(), name="validator-reveals")
        self._backlog = asyncio.create_task(
            poll_backlog(js, RECORDS_STREAM, self._settings.durable_for(self.address)),
            name="validator-backlog",
        )
        log.info("validator %s checking %s", self.address, self.model.name)

    async def _reveal_loop(self) -> None:
        """Reveal each committed epoch's seed once the epoch is over (docs/verification.md)."""
        while True:
            try:
                await self._handlers.reveal_due(int(time.time() * 1000))
            except Exception:
                # A broker hiccup must not end the loop: the reveal is retried next tick.
                log.exception("revealing a seed failed; retrying")
            await asyncio.sleep(self._reveal_interval_s)

    async def _prime(self, js: JetStreamContext) -> None:
        """Load the newest settlement and own commitment before the first record is checked,
        so a restart neither over-checks trusted executors nor re-commits its seed."""
        for subject, absorb in (
            (EPOCH_SETTLED, self._handlers.on_settled_bytes),
            (seed_committed(self.address), self._handlers.on_own_commitment_bytes),
        ):
            try:
                message = await js.get_last_msg(RECORDS_STREAM, subject)
            except nats.js.errors.NotFoundError:
                continue
            if message.data:
                absorb(message.data)

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._reveals, self._backlog):
            if task is not None:
                task.cancel()
                await asyncio.wait({task})
        self._reveals = self._backlog = None
        await self._broker.stop()
        # A check still running finishes in its thread; its record was not acked and
        # comes back to this validator's durable consumer after the ack deadline.
        self._pool.shutdown(wait=False, cancel_futures=True)
        ops_server, self.ops_server = self.ops_server, None
        if ops_server is not None:
            await ops_server.stop()


def build_validator(
    settings: ValidatorSettings, tracer_provider: TracerProvider | None = None
) -> Validator:
    """The validator of the configured key; a wrong key or model fails here, before the
    reference model is loaded (by `start()`)."""
    genesis = Genesis.load(settings.genesis_path)
    key = SigningKey.load(settings.key_path)
    return Validator(settings, genesis=genesis, key=key, tracer_provider=tracer_provider)


async def serve(validator: Validator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await validator.start()
    except BaseException:
        await validator.stop()
        raise
    heap.settle()
    try:
        await stop.wait()
    finally:
        log.info("validator stopping")
        await validator.stop()


def main() -> None:
    settings = ValidatorSettings()
    setup_logging(settings.log_level)
    tracer_provider = setup_tracing("attesta-validator")
    try:
        validator = build_validator(settings, tracer_provider)
    except ValidatorConfigError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from exc
    event_loop.run(serve(validator), settings.event_loop)


if __name__ == "__main__":
    main()
