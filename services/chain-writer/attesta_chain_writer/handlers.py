"""The JetStream consumer: every record on `attesta.records.>`, pulled in batches.

Each fetched batch is checked record by record, its valid records go into
`ledger_pending` in one statement and one transaction, and once that committed every
message of the batch is acked (rejected records included: redelivering them cannot make
them valid). Checking the next batch overlaps the previous batch's insert, and several
fetched batches wait their turn, so checking goes on while sealing holds inserts back.

A database failure nacks the batch's valid messages with a delay (redelivery, never
loss, and no hot loop while the database is away). A crash before the acks leaves the
messages to JetStream, which redelivers them after the ack wait; inserting them again
adds nothing (`add_pending`).

The loop uses nats-py's pull subscription directly rather than FastStream's batch
subscriber: nats-py may end a fetch with a bare `asyncio.TimeoutError` that FastStream's
batch loop does not expect, which drops the messages it collected until their ack wait
expires. Both timeout errors are caught here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import nats.errors
from attesta_common.subjects import RECORDS_ALL, RECORDS_STREAM
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from attesta_chain_writer.ingest import RecordIngestor, check_all
from attesta_chain_writer.pending import PendingRecord, add_pending
from attesta_chain_writer.pull import deliver_queued_directly, stream_seq
from attesta_chain_writer.settings import ChainWriterSettings

log = logging.getLogger(__name__)

_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
_FETCH_TIMEOUTS = (nats.errors.TimeoutError, asyncio.TimeoutError)
# Fetched batches in hand at once (waiting, being checked or being inserted): enough to
# keep checking through a seal (~100ms, during which inserts wait for the ingestion lock).
# The consumer's max_ack_pending is sized from it.
_MAX_IN_FLIGHT = 4
# Records checked between two turns of the event loop (~2ms).
_CHECK_CHUNK = 50


@dataclass
class _Checked:
    """One fetched batch, checked: records to insert, rejected ones, and failed checks."""

    records: list[tuple[Msg, PendingRecord]] = field(default_factory=list)
    rejected: list[Msg] = field(default_factory=list)
    failed: list[Msg] = field(default_factory=list)


class RecordConsumer:
    """`start(js)` then `stop()`: fetch, check, insert, ack, until stopped.

    Batches overlap: while one is inserted and acked, the next is fetched and checked;
    inserts stay in fetch order.
    """

    def __init__(
        self,
        settings: ChainWriterSettings,
        ingestor: RecordIngestor,
        pool: asyncpg.Pool,
        *,
        on_added: Callable[[int], None],
    ) -> None:
        self._settings = settings
        self._ingestor = ingestor
        self._pool = pool
        self._on_added = on_added
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._last: asyncio.Task[None] | None = None
        self._checking = asyncio.Lock()
        self._fetching = False
        self._stopping = False

    async def start(self, js: JetStreamContext) -> None:
        settings = self._settings
        self._sub = await js.pull_subscribe(
            RECORDS_ALL,
            durable=settings.consumer_durable,
            # The streams are declared by `ensure_streams` with their dedup window.
            stream=RECORDS_STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=settings.ack_wait_s,
                # The batches in hand plus acks still on their way must never stall
                # delivery.
                max_ack_pending=max((_MAX_IN_FLIGHT + 2) * settings.fetch_batch_size, 10_000),
            ),
        )
        deliver_queued_directly(self._sub)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="chain-writer-consumer")

    @property
    def running(self) -> bool:
        """The fetch loop is started and has neither stopped nor crashed."""
        return self._task is not None and not self._task.done() and not self._stopping

    async def stop(self) -> None:
        """Stop fetching; the batches in hand are checked, inserted and acked first."""
        self._stopping = True
        if self._task is not None:
            if self._fetching:
                # Waiting on the server only: nothing in hand is dropped. Messages the
                # server sends this abandoned pull come back after the ack wait.
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        self._last = None
        if self._sub is not None:
            # Only the client side: the durable consumer and its acks stay.
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()
            self._sub = None

    async def _run(self) -> None:
        assert self._sub is not None
        batch = self._settings.fetch_batch_size
        timeout = self._settings.fetch_timeout_s
        while not self._stopping:
            self._fetching = True
            try:
                messages = await self._sub.fetch(batch=batch, timeout=timeout)
            except _FETCH_TIMEOUTS:
                continue
            except nats.errors.Error as exc:
                # A reconnect in progress and the like: the next pull tries again.
                log.warning("fetching records failed, retrying: %r", exc)
                await asyncio.sleep(min(timeout, 1.0))
                continue
            finally:
                self._fetching = False
            while len(self._in_flight) >= _MAX_IN_FLIGHT:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(
                self._process(messages, self._last), name="chain-writer-batch"
            )
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            self._last = task

    async def _process(self, messages: list[Msg], previous: asyncio.Task[None] | None) -> None:
        checked = _Checked()
        # One batch at a time (the lock is first come, first served), so the oldest is
        # ready to insert first.
        async with self._checking:
            for start in range(0, len(messages), _CHECK_CHUNK):
                # Checking holds the event loop (~40us a record): in chunks, the next
                # pull request, database replies and acks go through in between.
                await asyncio.sleep(0)
                self._check(messages[start : start + _CHECK_CHUNK], checked)
        if previous is not None:
            # Inserts in fetch order, whatever became of the previous batch.
            await asyncio.wait([previous])
        await self._write(checked)

    def _check(self, messages: list[Msg], checked: _Checked) -> None:
        try:
            items = [
                (m.data, stream_seq(m), (m.headers or {}).get("traceparent")) for m in messages
            ]
            results = check_all(self._ingestor.genesis, items)
        except Exception:
            log.exception("checking %d record messages failed, they come back", len(messages))
            checked.failed.extend(messages)
            return
        for message, (_, seq, _), result in zip(messages, items, results, strict=True):
            if isinstance(result, PendingRecord):
                checked.records.append((message, result))
            elif isinstance(result, str):
                log.warning("record at stream seq %d rejected, not anchored: %s", seq, result)
                checked.rejected.append(message)
            else:
                checked.failed.append(message)

    async def _write(self, checked: _Checked) -> None:
        records, rejected = checked.records, checked.rejected
        await _settle(checked.failed, self._settings.retry_delay_s)
        try:
            added = await add_pending(self._pool, [record for _, record in records])
        except Exception as exc:
            # Any other error is redelivered at once, as FastStream's NACK_ON_ERROR did.
            delay = self._settings.retry_delay_s if isinstance(exc, _DATABASE_ERRORS) else 0.0
            log.warning(
                "could not queue %d records (stream seq %d..%d), redelivery in %.1fs: %r",
                len(records),
                records[0][1].stream_seq,
                records[-1][1].stream_seq,
                delay,
                exc,
            )
            await _settle(rejected, None)
            await _settle([message for message, _ in records], delay)
            return
        await _settle([*rejected, *(message for message, _ in records)], None)
        if added:
            self._on_added(added)


async def _settle(messages: Sequence[Msg], nak_delay: float | None) -> None:
    """Ack the messages, or with `nak_delay` nak them; a failure only means redelivery."""
    for message in messages:
        try:
            if nak_delay is None:
                await message.ack()
            else:
                await message.nak(delay=nak_delay)
        except nats.errors.Error as exc:
            log.warning("could not settle a record message, it comes back: %r", exc)
            return
