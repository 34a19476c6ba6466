"""The JetStream consumer: every record on `attesta.records.>`, pulled in batches and
handled concurrently (inserts share transactions, see `group_commit`), each message acked
once its record's insert committed.

A database failure nacks the message with a delay (redelivery, never loss, and no hot
loop while the database is away); any other error nacks it at once (NACK_ON_ERROR,
where FastStream's NATS default would terminate it).

Each pulled message gets its own handler call rather than a batch handler: FastStream's
batch pull loop collects several fetches, and a bare `asyncio.TimeoutError` from nats-py
between them drops the collected messages until their ack wait expires.
"""

from __future__ import annotations

import logging

import asyncpg
from attesta_common.subjects import RECORDS_ALL, RECORDS_STREAM
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.subscriber.usecases import PullStreamSubscriber

from attesta_chain_writer.ingest import RecordIngestor
from attesta_chain_writer.settings import ChainWriterSettings

log = logging.getLogger(__name__)

_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def register_consumer(
    broker: NatsBroker, settings: ChainWriterSettings, ingestor: RecordIngestor
) -> PullStreamSubscriber:
    subscriber = broker.subscriber(
        RECORDS_ALL,
        # The streams are declared by `ensure_streams` with their dedup window, not here.
        stream=JStream(name=RECORDS_STREAM, declare=False),
        durable=settings.consumer_durable,
        config=ConsumerConfig(ack_wait=settings.ack_wait_s),
        pull_sub=PullSub(batch_size=settings.fetch_batch_size, timeout=settings.fetch_timeout_s),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )

    # The raw message, not a decoded body: a record's hash is that of its exact bytes.
    @subscriber
    async def on_record(message: NatsMessage) -> None:
        stream_seq = message.raw_message.metadata.sequence.stream
        try:
            await ingestor.ingest(message.body, stream_seq)
        except _DATABASE_ERRORS as exc:
            log.warning(
                "could not queue the record at stream seq %d, redelivery in %.1fs: %r",
                stream_seq,
                settings.retry_delay_s,
                exc,
            )
            raise NackMessage(delay=settings.retry_delay_s) from exc

    return subscriber
