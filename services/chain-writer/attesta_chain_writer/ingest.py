"""Checking delivered records and queueing the valid ones for a batch.

Records are anchored whatever their kind, but only if they are what they claim: canonical
bytes, a valid signature, a signer holding the kind's role. Anything else is logged and
dropped; its message is still acked, since redelivering it cannot make it valid.
"""

from __future__ import annotations

import logging

from attesta_common.envelope import RecordRejected, read_record
from attesta_common.genesis import Genesis

from attesta_chain_writer.group_commit import GroupCommitter
from attesta_chain_writer.pending import PendingRecord

log = logging.getLogger(__name__)


class RecordIngestor:
    def __init__(self, genesis: Genesis, committer: GroupCommitter) -> None:
        self._genesis = genesis
        self._committer = committer

    def check(self, data: bytes, stream_seq: int) -> PendingRecord | None:
        try:
            record, _ = read_record(data, self._genesis)
        except RecordRejected as exc:
            log.warning("record at stream seq %d rejected, not anchored: %s", stream_seq, exc)
            return None
        return PendingRecord(record_hash=record.hash, kind=record.kind, stream_seq=stream_seq)

    async def ingest(self, data: bytes, stream_seq: int) -> bool:
        """Queue the record if valid (and new); returning means that insert committed."""
        record = self.check(data, stream_seq)
        if record is None:
            return False
        await self._committer.add(record)
        return True
