"""Queue depth of a durable consumer comes from the server, counted before and after acks."""

from __future__ import annotations

import asyncio
import contextlib

import nats
from attesta_common.backlog import backlog, poll_backlog
from attesta_common.broker import ensure_streams
from attesta_common.metrics import CONSUMER_BACKLOG
from attesta_common.subjects import RECORDS_STREAM
from nats.js.api import AckPolicy, ConsumerConfig


async def test_backlog_counts_waiting_and_unacked(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        config = ConsumerConfig(
            durable_name="backlog-test",
            filter_subject="attesta.records.test.>",
            ack_policy=AckPolicy.EXPLICIT,
        )
        await js.add_consumer(RECORDS_STREAM, config)
        assert await backlog(js, RECORDS_STREAM, "backlog-test") == 0
        for i in range(3):
            await js.publish(f"attesta.records.test.{i}", b"x")
        assert await backlog(js, RECORDS_STREAM, "backlog-test") == 3
        sub = await js.pull_subscribe("attesta.records.test.>", durable="backlog-test")
        (message,) = await sub.fetch(1)
        assert await backlog(js, RECORDS_STREAM, "backlog-test") == 3  # delivered, unacked
        await message.ack_sync()
        assert await backlog(js, RECORDS_STREAM, "backlog-test") == 2

        poller = asyncio.create_task(poll_backlog(js, RECORDS_STREAM, "backlog-test", 0.05))
        await asyncio.sleep(0.3)
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        assert CONSUMER_BACKLOG.labels(consumer="backlog-test")._value.get() == 2
    finally:
        await nc.close()
