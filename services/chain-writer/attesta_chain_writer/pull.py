"""Bulk delivery for nats-py pull subscriptions.

nats-py's `fetch(batch=n)` takes every message through `Subscription.next_msg`, which
creates two tasks and a uuid per message even when the message is already waiting in
the subscription's queue: about a fifth of the chain-writer's time per record. The
override below hands out a queued message directly and only waits (through the original
`next_msg`, with its timeout, close and cancellation handling) when the queue is empty.
nats-py's fetch logic (no-wait probe, lingering request, status messages) is unchanged.

It relies on `Subscription._pending_queue` and `_pending_size` (nats-py 2.16, pinned in
requirements/constraints.txt); tests/unit/chain_writer/test_pull.py guards them.
`stream_seq` likewise reads a message's stream sequence without the rest of its metadata.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

_NextMsg = Callable[[float | None], Awaitable[Msg]]


def deliver_queued_directly(psub: JetStreamContext.PullSubscription) -> None:
    """Make `psub.fetch` take already delivered messages without a task per message."""
    sub: Subscription = psub._sub
    queue: asyncio.Queue[Msg] = sub._pending_queue
    waiting: _NextMsg = sub.next_msg

    async def next_msg(timeout: float | None = 1.0) -> Msg:
        if queue.empty() or sub._conn.is_closed:
            return await waiting(timeout)
        # What the original does once its `queue.get()` returned.
        msg = queue.get_nowait()
        sub._pending_size -= len(msg.data)
        queue.task_done()
        return msg

    # An instance attribute: only this subscription changes, and `fetch` looks it up
    # on the instance.
    setattr(sub, "next_msg", next_msg)  # noqa: B010


def stream_seq(msg: Msg) -> int:
    """`msg.metadata.sequence.stream`, without parsing the rest (a timestamp and all)."""
    tokens = msg.reply.split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>;
    # the longer form with a domain and an account hash goes the long way.
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5])
    return msg.metadata.sequence.stream
