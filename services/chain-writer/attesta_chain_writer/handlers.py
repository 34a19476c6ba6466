"""The JetStream consumer: every record on `attesta.records.>`, in pulled batches.

A whole pulled batch is inserted in one transaction and acked after it committed. A
database failure nacks the batch with a delay (redelivery, never loss); any other error
nacks it at once (NACK_ON_ERROR, where FastStream's NATS default would terminate it).
"""

from __future__ import annotations

import logging
from typing import Annotated

import asyncpg
from attesta_common.subjects import RECORDS_ALL, RECORDS_STREAM
from faststream import AckPolicy, Context
from faststream.exceptions import NackMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from faststream.nats.subscriber.usecases import BatchPullStreamSubscriber

from attesta_chain_writer.ingest import RecordIngestor
from attesta_chain_writer.settings import ChainWriterSettings

log = logging.getLogger(__name__)

_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def register_consumer(
    broker: NatsBroker, settings: ChainWriterSettings, ingestor: RecordIngestor
) -> BatchPullStreamSubscriber:
    subscriber = broker.subscriber(
        RECORDS_ALL,
        # The streams are declared by `ensure_streams` with their dedup window, not here.
        stream=JStream(name=RECORDS_STREAM, declare=False),
        durable=settings.consumer_durable,
        config=ConsumerConfig(ack_wait=settings.ack_wait_s),
        pull_sub=PullSub(
            batch_size=settings.fetch_batch_size, timeout=settings.fetch_timeout_s, batch=True
        ),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )

    # The raw messages, not decoded bodies: a record's hash is that of its exact bytes.
    @subscriber
    async def on_records(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        try:
            await ingestor.ingest(message.raw_message)
        except _DATABASE_ERRORS as exc:
            log.warning(
                "could not queue %d records, redelivery in %.1fs: %r",
                len(message.raw_message),
                settings.retry_delay_s,
                exc,
            )
            raise NackMessage(delay=settings.retry_delay_s) from exc

    return subscriber
