"""Checking delivered records before they are queued for a batch.

Records are anchored whatever their kind, but only if they are what they claim: canonical
bytes, a valid signature, a signer holding the kind's role. Anything else is logged and
dropped; its message is still acked, since redelivering it cannot make it valid.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from attesta_common.envelope import RecordRejected, check_wire
from attesta_common.genesis import Genesis

from attesta_chain_writer.pending import PendingRecord

log = logging.getLogger(__name__)

# A batch's outcome per record: the record to queue, the reason it was rejected, or None
# where checking failed (a bug, not a bad record: its message comes back).
Checked = PendingRecord | str | None


def check_record(
    genesis: Genesis, data: bytes, stream_seq: int, traceparent: str | None = None
) -> PendingRecord | str:
    """The record to queue, or why it is not a valid record."""
    try:
        # The ledger anchors what an authorised signer signed; reading the body is the
        # business of the consumers that act on it, and would cost a third of the time.
        # Nor does it need the record as a model: `check_wire` is `parse_record` and
        # `verify_record` without building one.
        kind, record_hash = check_wire(data, genesis)
    except RecordRejected as exc:
        return str(exc)
    return PendingRecord(record_hash, kind, stream_seq, traceparent)


def check_all(genesis: Genesis, items: Sequence[tuple[bytes, int, str | None]]) -> list[Checked]:
    """`check_record` for each (data, stream_seq, traceparent)."""
    results: list[Checked] = []
    for data, stream_seq, traceparent in items:
        try:
            results.append(check_record(genesis, data, stream_seq, traceparent))
        except Exception:
            log.exception("checking the record at stream seq %d failed", stream_seq)
            results.append(None)
    return results


class RecordIngestor:
    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis

    def check(self, data: bytes, stream_seq: int) -> PendingRecord | None:
        """The record to queue, or None (logged) when it is not a valid record."""
        result = check_record(self.genesis, data, stream_seq)
        if isinstance(result, str):
            log.warning("record at stream seq %d rejected, not anchored: %s", stream_seq, result)
            return None
        return result
