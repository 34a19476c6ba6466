"""The `BatchAnchored` announcement, a signed record on the ledger stream.

The record is a pure function of the batch and its receipt and signatures are
deterministic, so announcing a batch again yields the same bytes and the same
`Nats-Msg-Id`: JetStream drops the copy.
"""

from __future__ import annotations

from attesta_common.broker import record_headers
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import BatchAnchored
from attesta_common.keys import SigningKey
from attesta_common.subjects import BATCH_ANCHORED, LEDGER_STREAM
from faststream.nats import NatsBroker

from attesta_chain_writer.anchor_port import AnchorReceipt, SealedBatch


def batch_anchored_record(
    batch: SealedBatch, receipt: AnchorReceipt, key: SigningKey
) -> SignedRecord:
    event = BatchAnchored(
        batch_seq=batch.batch_seq,
        merkle_root=batch.merkle_root,
        leaf_count=batch.leaf_count,
        anchor_kind=receipt.kind,
        anchor_ref=receipt.ref,
        anchor_height=receipt.height,
    )
    return sign_event(event, key)


class BatchAnnouncer:
    def __init__(self, broker: NatsBroker, key: SigningKey, *, timeout_s: float = 10.0) -> None:
        self._broker = broker
        self._key = key
        self._timeout_s = timeout_s

    async def announce(self, batch: SealedBatch, receipt: AnchorReceipt) -> None:
        """Publish and wait for the stream's ack, so a returned call means it is stored."""
        record = batch_anchored_record(batch, receipt, self._key)
        await self._broker.publish(
            record.to_bytes(),
            BATCH_ANCHORED,
            headers=record_headers(record),
            stream=LEDGER_STREAM,
            timeout=self._timeout_s,
        )
