"""The executor's pull consumer against a real JetStream: bounded by capacity, renewed as
its pull requests lapse, and silent once closed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from attesta_common.broker import ensure_streams
from attesta_common.subjects import RECORDS_STREAM
from attesta_executor.consumer import PullConsumer
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry import trace

EXPIRES_S = 0.3


async def _consumer(nc: NatsClient, capacity: int) -> tuple[str, str]:
    js = nc.jetstream()
    await ensure_streams(js)
    name = f"consumer-test-{uuid.uuid4().hex[:8]}"
    subject = f"attesta.records.test.{name}"
    await js.add_consumer(
        RECORDS_STREAM,
        ConsumerConfig(
            durable_name=name,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_ack_pending=capacity,
        ),
    )
    return name, subject


async def _started(
    nc: NatsClient, durable: str, capacity: int, handle: Callable[[Msg], Awaitable[None]]
) -> PullConsumer:
    consumer = PullConsumer(
        nc, RECORDS_STREAM, durable, capacity, handle, trace.get_tracer(__name__),
        pull_expires_s=EXPIRES_S,
    )  # fmt: skip
    await consumer.start()
    return consumer


def _queued() -> tuple[asyncio.Queue[bytes], Callable[[Msg], Awaitable[None]]]:
    """A handler that acks each message and queues its data, and the queue."""
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        await msg.ack()
        got.put_nowait(msg.data)

    return got, handle


async def test_at_most_capacity_in_hand_and_the_rest_after_acks(nc: NatsClient) -> None:
    durable, subject = await _consumer(nc, capacity=2)
    release = asyncio.Event()
    in_hand: list[Msg] = []
    done: list[bytes] = []

    async def handle(msg: Msg) -> None:
        in_hand.append(msg)
        await release.wait()
        done.append(msg.data)
        await msg.ack()

    consumer = await _started(nc, durable, 2, handle)
    try:
        js = nc.jetstream()
        for i in range(5):
            await js.publish(subject, f"m{i}".encode())
        # Longer than a pull request lives: renewals must not bring more than capacity.
        await asyncio.sleep(3 * EXPIRES_S)
        assert len(in_hand) == 2
        release.set()
        for _ in range(100):
            if len(done) == 5:
                break
            await asyncio.sleep(0.05)
        assert sorted(done) == [f"m{i}".encode() for i in range(5)]
    finally:
        await consumer.close()


async def test_a_message_after_many_lapsed_requests_still_arrives(nc: NatsClient) -> None:
    durable, subject = await _consumer(nc, capacity=4)
    got, handle = _queued()
    consumer = await _started(nc, durable, 4, handle)
    try:
        await asyncio.sleep(4 * EXPIRES_S)
        await nc.jetstream().publish(subject, b"late")
        async with asyncio.timeout(5):
            assert await got.get() == b"late"
    finally:
        await consumer.close()


async def test_closed_consumer_leaves_new_messages_to_the_next(nc: NatsClient) -> None:
    durable, subject = await _consumer(nc, capacity=4)
    first: list[bytes] = []

    async def record(msg: Msg) -> None:
        first.append(msg.data)
        await msg.ack()

    consumer = await _started(nc, durable, 4, record)
    await consumer.close()
    js = nc.jetstream()
    await js.publish(subject, b"after close")
    await asyncio.sleep(2 * EXPIRES_S)
    assert first == []
    # Not stranded on a lapsed request: the next consumer gets it at once.
    got, take = _queued()
    successor = await _started(nc, durable, 4, take)
    try:
        async with asyncio.timeout(5):
            assert await got.get() == b"after close"
    finally:
        await successor.close()
