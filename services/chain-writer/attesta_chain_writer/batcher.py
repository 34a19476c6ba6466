"""The batcher: seals pending records into batches, anchors and announces them.

It sweeps every `interval_s`, and wakes early to seal full batches once the consumer
reports a full batch's worth of new records. Every step is idempotent (anchoring returns
the first receipt, marking only moves forward, the announcement is a deterministic record
JetStream deduplicates), so a batch interrupted anywhere is simply finished again, at the
next tick or the next start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import asyncpg
from attesta_common.metrics import CHAIN_ANCHOR_LAG, CHAIN_BATCH_RECORDS
from opentelemetry.trace import Tracer

from attesta_chain_writer.anchor_port import AnchorReceipt, ChainAnchor, SealedBatch
from attesta_chain_writer.sealing import (
    mark_anchored,
    mark_announced,
    seal_batch,
    unfinished_batches,
)

log = logging.getLogger(__name__)


class Announcer(Protocol):
    async def announce(self, batch: SealedBatch, receipt: AnchorReceipt) -> None: ...


class Batcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        anchor: ChainAnchor,
        announcer: Announcer,
        *,
        batch_size: int,
        interval_s: float,
        tracer: Tracer | None = None,
    ) -> None:
        self._tracer = tracer
        self._pool = pool
        self._anchor = anchor
        self._announcer = announcer
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._wake = asyncio.Event()
        # Records added since the last seal, as reported by this process's consumer: a
        # hint for waking early, not a count anyone relies on.
        self._unsealed = 0
        # The loop and a shutdown flush must not seal or anchor side by side.
        self._busy = asyncio.Lock()

    def notify(self, added: int) -> None:
        self._unsealed += added
        if self._unsealed >= self._batch_size:
            self._wake.set()

    async def run(self) -> None:
        """Tick until cancelled; a failed tick is logged and retried at the next one.

        A wake-up from `notify` seals full batches only; every `interval_s` a sweep also
        seals the remainder, so a record waits at most about one interval.
        """
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self._interval_s
        while True:
            try:
                async with asyncio.timeout_at(next_sweep):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            sweep = loop.time() >= next_sweep
            if sweep:
                next_sweep = loop.time() + self._interval_s
            try:
                await self.tick(partial=sweep)
            except Exception:
                log.exception("sealing or anchoring failed; retrying at the next tick")
                await asyncio.sleep(min(self._interval_s, 1.0))

    async def recover(self) -> int:
        """Finish the batches a previous run left sealed or unannounced; returns how many."""
        async with self._busy:
            return await self._finish_unfinished()

    async def tick(self, *, partial: bool = True) -> list[SealedBatch]:
        """Finish leftovers, then seal and finish full batches, and with `partial` the rest."""
        async with self._busy:
            await self._finish_unfinished()
            sealed: list[SealedBatch] = []
            min_size = 1 if partial else self._batch_size
            while batch := await seal_batch(
                self._pool, self._batch_size, min_size=min_size, tracer=self._tracer
            ):
                self._unsealed = max(0, self._unsealed - batch.leaf_count)
                CHAIN_BATCH_RECORDS.observe(batch.leaf_count)
                await self._finish(batch, None)
                sealed.append(batch)
                if batch.leaf_count < self._batch_size:
                    break
            return sealed

    async def _finish_unfinished(self) -> int:
        unfinished = await unfinished_batches(self._pool)
        for batch, receipt in unfinished:
            await self._finish(batch, receipt)
        return len(unfinished)

    async def _finish(self, batch: SealedBatch, receipt: AnchorReceipt | None) -> None:
        if receipt is None:
            receipt = await self._anchor.anchor(batch)
            lag = await mark_anchored(self._pool, batch, receipt)
            if lag is not None:
                CHAIN_ANCHOR_LAG.observe(max(0.0, lag))
            log.info(
                "batch %d anchored: %d records, root %s, %s %s at height %d",
                batch.batch_seq,
                batch.leaf_count,
                batch.merkle_root,
                receipt.kind,
                receipt.ref,
                receipt.height,
            )
        await self._announcer.announce(batch, receipt)
        await mark_announced(self._pool, batch.batch_seq)
