"""Checking delivered records and queueing the valid ones for a batch.

Records are anchored whatever their kind, but only if they are what they claim: canonical
bytes, a valid signature, a signer holding the kind's role. Anything else is logged and
dropped; its message is still acked, since redelivering it cannot make it valid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import asyncpg
from attesta_common.envelope import RecordRejected, read_record
from attesta_common.genesis import Genesis
from nats.aio.msg import Msg

from attesta_chain_writer.pending import PendingRecord, add_pending

log = logging.getLogger(__name__)


class RecordIngestor:
    def __init__(
        self, pool: asyncpg.Pool, genesis: Genesis, on_added: Callable[[int], None]
    ) -> None:
        self._pool = pool
        self._genesis = genesis
        self._on_added = on_added

    def check(self, data: bytes, stream_seq: int) -> PendingRecord | None:
        try:
            record, _ = read_record(data, self._genesis)
        except RecordRejected as exc:
            log.warning("record at stream seq %d rejected, not anchored: %s", stream_seq, exc)
            return None
        return PendingRecord(record_hash=record.hash, kind=record.kind, stream_seq=stream_seq)

    async def ingest(self, messages: Sequence[Msg]) -> int:
        """Queue the valid records among `messages` in one transaction; returns how many are new.

        Returning means the insert committed, so the caller may ack every message.
        """
        checked = (self.check(msg.data, msg.metadata.sequence.stream) for msg in messages)
        added = await add_pending(self._pool, [r for r in checked if r is not None])
        if added:
            self._on_added(added)
        return added
