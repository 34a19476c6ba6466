"""The chain-writer as one object: consumer and batcher over a pool, started and stopped
together, with the ops endpoints (liveness, readiness, metrics) when a port is set.
`main()` runs it as a process; tests run it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

import asyncpg
from attesta_common.broker import ensure_streams, make_broker
from attesta_common.db import migrate
from attesta_common.db_probe import DatabaseProbe
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.metrics import CHAIN_PENDING
from attesta_common.ops_server import OpsServer, start_ops_server
from nats.aio.client import Client as NatsClient
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from attesta_chain_writer.anchor_port import ChainAnchor
from attesta_chain_writer.announce import BatchAnnouncer
from attesta_chain_writer.batcher import Batcher
from attesta_chain_writer.cosmos.anchor import CosmosAnchor
from attesta_chain_writer.cosmos.factory import build_cosmos_anchor
from attesta_chain_writer.handlers import RecordConsumer
from attesta_chain_writer.ingest import RecordIngestor
from attesta_chain_writer.local_ledger import LocalLedger
from attesta_chain_writer.pending import count_pending
from attesta_chain_writer.settings import ChainWriterSettings

log = logging.getLogger(__name__)


async def migrate_database(pool: asyncpg.Pool) -> None:
    await migrate(pool, "common", "attesta_common")
    await migrate(pool, "chain_writer", "attesta_chain_writer")


class ChainWriter:
    """`start()` then `stop()`, or `async with`; the pool stays the caller's."""

    def __init__(
        self,
        settings: ChainWriterSettings,
        genesis: Genesis,
        key: SigningKey,
        pool: asyncpg.Pool,
        *,
        anchor: ChainAnchor | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._settings = settings
        if anchor is None:
            anchor = (
                build_cosmos_anchor(settings, genesis, key, pool)
                if settings.anchor == "cosmos"
                else LocalLedger(pool, key, genesis.chain_id)
            )
        self.anchor = anchor
        self.broker = make_broker(settings.nats_url, tracer_provider)
        self.batcher = Batcher(
            pool,
            anchor,
            BatchAnnouncer(self.broker, key),
            batch_size=settings.batch_size,
            interval_s=settings.batch_interval_s,
            tracer=trace.get_tracer("attesta.chain_writer", tracer_provider=tracer_provider),
        )
        self._consumer = RecordConsumer(
            settings, RecordIngestor(genesis), pool, on_added=self.batcher.notify
        )
        self._batcher_task: asyncio.Task[None] | None = None
        # Readiness must not wait on Postgres: this probe counts the pending records every
        # few seconds (the pending gauge) and remembers when that last worked.
        self.db_probe = DatabaseProbe(pool, _observe_pending)
        self._probe_task: asyncio.Task[None] | None = None
        self._nc: NatsClient | None = None
        # The ops endpoints, when `ops_port` is set (0 picks a free port: see `ops.port`).
        self.ops: OpsServer | None = None

    def readiness(self) -> tuple[bool, str]:
        """Ready while NATS is connected, the consumer and batcher loops run, and the
        database answered recently."""
        problems = []
        if self._nc is None or not self._nc.is_connected:
            problems.append("NATS not connected")
        if not self._consumer.running:
            problems.append("record consumer not running")
        if self._batcher_task is None or self._batcher_task.done():
            problems.append("batcher not running")
        db_ok, db_detail = self.db_probe.status()
        if not db_ok:
            problems.append(db_detail)
        return not problems, "; ".join(problems) or "ready"

    async def start(self) -> None:
        self.ops = await start_ops_server(
            self._settings.ops_host, self._settings.ops_port, self.readiness
        )
        try:
            await self._start()
        except BaseException:
            await self._stop_ops()
            raise

    async def _start(self) -> None:
        if isinstance(self.anchor, CosmosAnchor):
            # Fails fast on a chain whose memo limit cannot hold the anchor memo.
            await self.anchor.start()
        await self.broker.connect()
        self._nc = self.broker.connection
        js = self._nc.jetstream()
        await ensure_streams(js)
        recovered = await self.batcher.recover()
        self.db_probe.mark_ok()
        if recovered:
            log.info("finished %d batches left sealed or unannounced by the last run", recovered)
        await self.broker.start()
        await self._consumer.start(js)
        self._batcher_task = asyncio.create_task(self.batcher.run(), name="chain-writer-batcher")
        self._probe_task = asyncio.create_task(self.db_probe.run(), name="chain-writer-db-probe")

    async def stop(self, *, flush: bool = True) -> None:
        """Stop consuming; with `flush`, seal and anchor what is pending (bounded in time).

        Whatever the flush does not get to stays pending or sealed and is finished by the
        next start: stopping never loses a record.
        """
        # The consumer stops first (inserting and acking the batch in hand), while the connection
        # stays open for the announcements of the final flush.
        await self._consumer.stop()
        if self._batcher_task is not None:
            self._batcher_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._batcher_task
            self._batcher_task = None
        if flush:
            try:
                async with asyncio.timeout(self._settings.shutdown_flush_s):
                    await self.batcher.tick()
            except TimeoutError:
                log.warning("shutdown flush timed out; the next start finishes it")
            except Exception:
                log.exception("shutdown flush failed; the next start finishes it")
        await self.broker.stop()
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
            self._probe_task = None
        await self._stop_ops()

    async def _stop_ops(self) -> None:
        if self.ops is not None:
            await self.ops.stop()
            self.ops = None

    async def __aenter__(self) -> ChainWriter:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop(flush=exc is None)


async def _observe_pending(pool: asyncpg.Pool) -> None:
    CHAIN_PENDING.set(await count_pending(pool))
