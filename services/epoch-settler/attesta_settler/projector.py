"""Follows every record in the stream and projects it into Postgres, exactly once.

An ordered consumer (ephemeral, in-order, no acks) resumes right after the stored
position. Each message is projected in one transaction with the position update, and a
message at or below the stored position is skipped, so redelivery after a reconnect or a
restart never applies a record twice.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import nats.errors
from attesta_common.envelope import RecordRejected, read_record
from attesta_common.events import EpochSettled, Event
from attesta_common.genesis import Genesis
from attesta_common.metrics import LAST_SETTLED_EPOCH, PROJECTION_POSITION
from attesta_common.subjects import RECORDS_ALL, RECORDS_STREAM
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry.trace import Tracer

from attesta_settler.positions import ensure_position, lock_position, read_position, store_position
from attesta_settler.projections import apply_record

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0


class Projector:
    def __init__(
        self,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        genesis: Genesis,
        consumer: str,
        tracer: Tracer,
    ) -> None:
        self._js = js
        self._pool = pool
        self._genesis = genesis
        self._consumer = consumer
        self._tracer = tracer
        # Subscribed and reading the stream (readiness); False while an outage is retried.
        self.following = False

    async def run(self) -> None:
        """Project until cancelled."""
        await ensure_position(self._pool, self._consumer)
        await _observe_last_settled(self._pool)
        while True:
            try:
                await self._follow()
            except Exception:
                # A NATS or Postgres outage (or a record this code cannot project) must not
                # end the settler: resume from the stored position once things are back.
                log.exception("projection interrupted; resuming in %.0f s", RETRY_DELAY_S)
                await asyncio.sleep(RETRY_DELAY_S)

    async def _follow(self) -> None:
        position = await read_position(self._pool, self._consumer)
        config = (
            ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=position + 1
            )
            if position
            else ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        sub = await self._js.subscribe(
            RECORDS_ALL, stream=RECORDS_STREAM, ordered_consumer=True, config=config
        )
        log.info("projecting %s from seq %d", RECORDS_STREAM, position + 1)
        PROJECTION_POSITION.set(position)
        self.following = True
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                await self._project(msg)
        finally:
            self.following = False
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                log.debug("subscription already gone")

    async def _project(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        settled: int | None = None
        with self._tracer.start_as_current_span("settler.project") as span:
            span.set_attribute("attesta.stream_seq", seq)
            async with self._pool.acquire() as conn, conn.transaction():
                if seq <= await lock_position(conn, self._consumer):
                    return
                event: Event
                try:
                    record, event = read_record(msg.data, self._genesis)
                except RecordRejected as exc:
                    log.warning("record at seq %d rejected: %s", seq, exc)
                else:
                    span.set_attribute("attesta.kind", record.kind)
                    await apply_record(conn, self._genesis, record, event, seq)
                    if isinstance(event, EpochSettled):
                        settled = await _last_settled(conn)
                await store_position(conn, self._consumer, seq)
        # Only once committed: the gauges never run ahead of the rows.
        PROJECTION_POSITION.set(seq)
        if settled is not None:
            LAST_SETTLED_EPOCH.set(settled)


async def _last_settled(db: asyncpg.Pool | asyncpg.Connection) -> int | None:
    value = await db.fetchval("SELECT max(epoch) FROM epoch_settlements")
    return int(value) if value is not None else None


async def _observe_last_settled(pool: asyncpg.Pool) -> None:
    settled = await _last_settled(pool)
    if settled is not None:
        LAST_SETTLED_EPOCH.set(settled)
