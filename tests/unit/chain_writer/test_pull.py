"""Bulk delivery on a pull subscription: the nats-py internals it relies on still hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import nats.errors
import pytest
from attesta_chain_writer.pull import deliver_queued_directly, stream_seq
from attesta_common.broker import ensure_streams
from attesta_common.subjects import RECORDS_ALL, RECORDS_STREAM
from nats.aio.msg import Msg
from nats.js import JetStreamContext


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    try:
        yield js
    finally:
        await nc.close()


async def test_fetch_takes_queued_messages_in_order_and_waits_only_when_empty(
    js: JetStreamContext,
) -> None:
    for i in range(250):
        await js.publish("attesta.records.test.pull", str(i).encode())
    psub = await js.pull_subscribe(RECORDS_ALL, durable="pull-test", stream=RECORDS_STREAM)
    waits = 0
    original = psub._sub.next_msg

    async def counting(timeout: float | None = 1.0) -> Msg:
        nonlocal waits
        waits += 1
        return await original(timeout)

    setattr(psub._sub, "next_msg", counting)  # noqa: B010
    deliver_queued_directly(psub)

    got: list[Msg] = []
    for _ in range(3):
        got.extend(await psub.fetch(100, timeout=5))
    assert [m.data for m in got] == [str(i).encode() for i in range(250)]
    assert [stream_seq(m) for m in got] == [m.metadata.sequence.stream for m in got]
    # Most messages were already queued when asked for: no task each.
    assert waits < 50
    # The pending-bytes accounting of nats-py is kept.
    assert psub.pending_bytes == 0
    for message in got:
        await message.ack()
    # Nothing left: the fetch times out as before.
    with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
        await psub.fetch(10, timeout=0.3)


def test_stream_seq_reads_both_reply_forms() -> None:
    short = "$JS.ACK.ATTESTA_RECORDS.chain-writer.2.4321.17.1795561763360000000.9"
    long = "$JS.ACK.hub.ACCHASH.ATTESTA_RECORDS.chain-writer.2.4321.17.1795561763360000000.9.x1"
    for reply in (short, long):
        msg = Msg(_client=None, subject="s", reply=reply)  # type: ignore[arg-type]
        assert stream_seq(msg) == msg.metadata.sequence.stream == 4321
