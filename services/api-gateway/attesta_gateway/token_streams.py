"""Token streams: each inference's events in a queue, and one subscription for the token
streams of all of this gateway's inferences.

A subscription per inference cost a SUB and an UNSUB on the server, a subscription object
and a task in the gateway per request: about 5% of the gateway's samples at saturation
(docs/overhead.md). An executor that announces `STREAM_PREFIX_FEATURE` sends an
inference's events to `<prefix>.<inference id>` when its request names this gateway's
prefix; here they are handed to the inference's queue by the subject's last token. Older
executors get no prefix and are read through a subscription of their own
(`TokenStream.open`), so either side can be upgraded first.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable

import nats.errors
from attesta_common.subjects import gateway_stream_prefix
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


class TokenStream:
    """One inference's token-stream messages, in a queue: from a subscription of its own
    (`open`), or from the gateway's shared one (`StreamRouter`).

    Fed by a subscription callback: nats-py's `next_msg` creates two tasks and a uuid per
    message (a timeout is kept for the whole stream by `Collector._collect` instead).
    """

    def __init__(self, detach: Callable[[], object] | None = None) -> None:
        self.messages: asyncio.Queue[Msg] = asyncio.Queue()
        self._subscription: Subscription | None = None
        self._detach = detach

    @classmethod
    async def open(cls, connection: NATS, subject: str) -> TokenStream:
        stream = cls()

        async def deliver(msg: Msg) -> None:
            stream.messages.put_nowait(msg)

        stream._subscription = await connection.subscribe(subject, cb=deliver)
        return stream

    async def close(self) -> None:
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()
        subscription, self._subscription = self._subscription, None
        await _unsubscribe(subscription)


class StreamRouter:
    def __init__(self, connection: NATS) -> None:
        self._nc = connection
        # Per process, not per gateway key: two processes may share a key.
        self.prefix = gateway_stream_prefix(secrets.token_hex(8))
        self._cut = len(self.prefix) + 1
        self._streams: dict[str, TokenStream] = {}
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(f"{self.prefix}.*", cb=self._route)

    def open(self, inference_id: str) -> TokenStream:
        """The inference's stream, read from here on; closing it stops the routing."""
        stream = TokenStream(detach=lambda: self._detach(inference_id, stream))
        self._streams[inference_id] = stream
        return stream

    def _detach(self, inference_id: str, stream: TokenStream) -> None:
        # Only its own entry: ids are unique, but a stream must never end another's.
        if self._streams.get(inference_id) is stream:
            del self._streams[inference_id]

    @property
    def routed(self) -> int:
        """Inferences being read now."""
        return len(self._streams)

    async def _route(self, msg: Msg) -> None:
        stream = self._streams.get(msg.subject[self._cut :])
        if stream is not None:
            stream.messages.put_nowait(msg)

    async def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        await _unsubscribe(subscription)


async def _unsubscribe(subscription: Subscription | None) -> None:
    if subscription is not None:
        # A closed connection took the subscription with it.
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()
