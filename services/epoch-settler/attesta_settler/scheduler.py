"""Settles epochs once their end plus grace has passed, one at a time, oldest first.

The scheduler only publishes `EpochSettled`; the projector applies it when it comes back
through the stream. It settles from a caught-up projection (every record that was in the
stream when the epoch became due is projected), so a settler restarting after downtime
does not settle an epoch from rows it has not read yet; and it waits for its own record
to be projected before settling the next epoch, which needs that record's hash.

A gateway that committed to a canary secret reveals it just after the cutoff; the
scheduler waits up to `canary_reveal_wait_s` past the due time for those reveals, then
settles with what it has (a missing reveal only means its canaries count as work).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from attesta_common.broker import record_headers
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.epochs import epoch_end_ms
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.metrics import SETTLEMENT_DURATION
from attesta_common.subjects import EPOCH_SETTLED, RECORDS_STREAM
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer

from attesta_settler.inputs import (
    build_settlement,
    previous_settlement_hash,
    unrevealed_canary_gateways,
)
from attesta_settler.positions import read_position

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0


@dataclass
class _InFlight:
    epoch: int
    record: SignedRecord
    seq: int | None = None


async def lowest_unsettled_epoch(pool: asyncpg.Pool) -> int | None:
    value = await pool.fetchval(
        """
        SELECT min(i.epoch) FROM inferences AS i
        WHERE NOT EXISTS (SELECT 1 FROM epoch_settlements AS s WHERE s.epoch = i.epoch)
        """
    )
    return int(value) if value is not None else None


class Scheduler:
    def __init__(
        self,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        genesis: Genesis,
        key: SigningKey,
        consumer: str,
        tracer: Tracer,
        *,
        interval_s: float = 1.0,
        canary_reveal_wait_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._js = js
        self._pool = pool
        self._genesis = genesis
        self._key = key
        self._consumer = consumer
        self._tracer = tracer
        self._interval_s = interval_s
        self._canary_reveal_wait_ms = int(canary_reveal_wait_s * 1000)
        self._clock = clock
        self._in_flight: _InFlight | None = None
        self._catch_up: tuple[int, int] | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                # Publishing or reading may fail during an outage; the next tick retries.
                log.exception("settlement attempt failed")
            await asyncio.sleep(self._interval_s)

    def _due_ms(self, epoch: int) -> int:
        grace_ms = int(self._genesis.settle_grace_seconds * 1000)
        return epoch_end_ms(self._genesis, epoch) + grace_ms

    def _due(self, epoch: int) -> bool:
        return self._due_ms(epoch) <= int(self._clock() * 1000)

    async def _awaiting_canary_reveals(self, epoch: int, position: int) -> bool:
        missing = await unrevealed_canary_gateways(self._pool, epoch, position)
        if not missing:
            return False
        if int(self._clock() * 1000) < self._due_ms(epoch) + self._canary_reveal_wait_ms:
            log.debug("epoch %d: waiting for the canary reveals of %s", epoch, missing)
            return True
        log.warning("epoch %d settled without the canary reveals of %s", epoch, missing)
        return False

    async def tick(self) -> int | None:
        """One settlement attempt; returns the epoch whose settlement it published, if any."""
        position = await read_position(self._pool, self._consumer)
        if self._in_flight is not None:
            if self._in_flight.seq is None:
                # Same bytes again: if the first publish did land, JetStream drops the copy.
                await self._publish(self._in_flight)
                return None
            if position < self._in_flight.seq:
                return None
            self._in_flight = None

        epoch = await lowest_unsettled_epoch(self._pool)
        if epoch is None or not self._due(epoch):
            return None
        if self._catch_up is None or self._catch_up[0] != epoch:
            # Everything in the stream once the epoch is due must be projected first; the
            # target is fixed then, so a steady flow of new records cannot starve settlement.
            stream = await self._js.stream_info(RECORDS_STREAM)
            self._catch_up = (epoch, stream.state.last_seq)
        if position < self._catch_up[1]:
            log.debug("epoch %d due; projection at %d of %d", epoch, position, self._catch_up[1])
            return None
        if await self._awaiting_canary_reveals(epoch, position):
            return None
        self._catch_up = None
        await self._settle(epoch, position)
        return epoch

    async def _settle(self, epoch: int, cutoff_seq: int) -> None:
        started = time.perf_counter()
        with self._tracer.start_as_current_span("settler.settle") as span:
            span.set_attribute("attesta.epoch", epoch)
            span.set_attribute("attesta.cutoff_seq", cutoff_seq)
            previous = await previous_settlement_hash(self._pool, epoch)
            settled = await build_settlement(self._pool, self._genesis, epoch, cutoff_seq, previous)
            log.info(
                "settling epoch %d: %d inferences, %d refunds, cutoff seq %d",
                epoch,
                settled.inference_count,
                len(settled.refunds),
                cutoff_seq,
            )
            self._in_flight = _InFlight(epoch, sign_event(settled, self._key))
            await self._publish(self._in_flight)
        elapsed = time.perf_counter() - started
        SETTLEMENT_DURATION.observe(elapsed)
        log.info(
            "epoch %d settlement %s published at seq %s in %.0f ms",
            epoch,
            self._in_flight.record.hash[:16],
            self._in_flight.seq,
            elapsed * 1000,
        )

    async def _publish(self, in_flight: _InFlight) -> None:
        ack = await self._js.publish(
            EPOCH_SETTLED,
            in_flight.record.to_bytes(),
            stream=RECORDS_STREAM,
            headers=record_headers(in_flight.record),
            timeout=PUBLISH_TIMEOUT_S,
        )
        in_flight.seq = ack.seq
