"""The executor's requests, pulled from JetStream and each handed to its own task.

Requests are the executor's hot path. Through FastStream's subscriber (its fetch loop,
worker queue, middlewares, dependency injection and a task group per message) a request
took about a millisecond from arriving to reaching the handler on this project's 2-core
host (docs/overhead.md). Here one standing pull request for `capacity` messages is kept
open on the durable consumer and every message is dispatched from the subscription's
callback: no fetch round trip per message, no task per fetch. `max_ack_pending` (the
capacity) still bounds what the server hands out, so the standing request never brings
more requests than can be in flight.

The pull request expires every `pull_expires_s` and is renewed, when the server says so
(status 408) or, if that word was lost to a reconnect, when nothing was heard for longer.
A refused or unanswered request makes it check the durable consumer first
(`ensure_consumer`: `durable.redeclare_consumer`): one deleted under a running executor
(409 "Consumer Deleted", or 503 "no responders" for one already gone) is re-created
rather than asked forever.
As FastStream's telemetry middleware did, each request's handling is a CONSUMER span that
continues the producer's trace, so the executor's own publishes hang under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from attesta_common.spans import child_span
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer

log = logging.getLogger(__name__)

# Status codes JetStream puts in the header of a pull request's replies.
_STATUS = "Status"
_TIMEOUT = "408"  # the request expired: renew it
_HEARTBEAT = "100"
# After a refusal (409: consumer deleted, too many waiting requests...), before asking again.
_RETRY_S = 1.0

Handle = Callable[[Msg], Awaitable[None]]
EnsureConsumer = Callable[[], Awaitable[None]]


class PullConsumer:
    """`start()`, then `stop_requesting()` and `close()`; `handle` gets every message,
    each in its own task."""

    def __init__(
        self,
        connection: NATS,
        stream: str,
        durable: str,
        capacity: int,
        handle: Handle,
        tracer: Tracer,
        *,
        pull_expires_s: float,
        ensure_consumer: EnsureConsumer | None = None,
    ) -> None:
        self._nc = connection
        self._ensure_consumer = ensure_consumer
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._capacity = capacity
        self._handle = handle
        self._tracer = tracer
        self._expires_s = pull_expires_s
        # Each pull request gets its own reply subject under this inbox, so a status that
        # ends an older request (a 408 after a reconnect) is not taken for the current one.
        self._inbox = connection.new_inbox()
        self._serial = 0
        self._current_reply = ""
        self._subscription: Subscription | None = None
        self._renewer: asyncio.Task[None] | None = None
        # Heard from the server (a message or a status): the standing request is alive.
        self._heard = asyncio.Event()
        self._ended = asyncio.Event()
        self._remaining = 0
        self._refused = False
        # Strong references: the event loop keeps only weak ones to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(f"{self._inbox}.*", cb=self._received)
        self._renewer = asyncio.create_task(self._keep_requesting(), name="executor-pull")

    async def stop_requesting(self) -> None:
        """Ask for no more requests. The standing pull request may still deliver some until
        it lapses: they reach the handler, which hands them back while closing."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            # Waited, not awaited: the renewer's CancelledError stays inside it, and a
            # cancellation of this caller still reaches the caller.
            await asyncio.wait([renewer])

    async def close(self) -> None:
        """Stop listening once the standing pull request has lapsed (at most
        `pull_expires_s`). The NATS server used here drops a pull request whose inbox lost
        its interest (tests/integration/executor/test_executor_consumer.py), but a server
        that delivered to it would strand the request until ack_wait; the wait is short.
        Tasks already started finish on their own."""
        await self.stop_requesting()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._expires_s + 1.0):
                await self._ended.wait()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _request(self) -> None:
        body = {"batch": self._capacity, "expires": int(self._expires_s * 1e9)}
        self._serial += 1
        self._current_reply = f"{self._inbox}.{self._serial}"
        self._remaining = self._capacity
        await self._nc.publish(
            self._next_subject, json.dumps(body).encode(), reply=self._current_reply
        )

    async def _keep_requesting(self) -> None:
        while True:
            self._ended.clear()
            self._heard.clear()
            try:
                await self._request()
            except Exception as exc:
                # Disconnected: nats-py reconnects; ask again shortly.
                log.warning("could not request messages: %r", exc)
                self._ended.set()  # nothing stands: close() need not wait
                await asyncio.sleep(_RETRY_S)
                continue
            answered = await self._until_ended()
            refused, self._refused = self._refused, False
            if refused or not answered:
                await self._declare_consumer()
            if refused:
                await asyncio.sleep(_RETRY_S)

    async def _declare_consumer(self) -> None:
        if self._ensure_consumer is None:
            return
        try:
            await self._ensure_consumer()
        except Exception as exc:
            log.warning("could not declare the consumer: %r", exc)

    async def _until_ended(self) -> bool:
        """Until the standing request is over: served in full, expired (408), refused, or
        silent for longer than it lives (its 408 lost to a reconnect, or nobody serving
        the consumer's subject); False for the last."""
        while True:
            try:
                async with asyncio.timeout(self._expires_s + 1.0):
                    await self._ended.wait()
                return True
            except TimeoutError:
                if not self._heard.is_set():
                    return False
                self._heard.clear()

    async def _received(self, msg: Msg) -> None:
        self._heard.set()
        status = msg.headers.get(_STATUS) if msg.headers else None
        if status is not None:
            # A status comes on the reply subject of the request it ends; an older
            # request's is no news about the current one.
            if status != _HEARTBEAT and msg.subject == self._current_reply:
                if status != _TIMEOUT:
                    log.warning("pull request refused: %s", msg.headers)
                    self._refused = True
                self._ended.set()
            return
        # A delivery carries the stream's subject, not the request's: counted against the
        # current request either way (at worst it is renewed early).
        self._remaining -= 1
        if self._remaining <= 0:
            self._ended.set()
        task = asyncio.create_task(self._traced(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _traced(self, msg: Msg) -> None:
        parent = propagate.extract(msg.headers or {})
        with child_span(
            self._tracer,
            f"{msg.subject} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation": "process",
                "messaging.destination.name": msg.subject,
                "messaging.message.body.size": len(msg.data),
            },
        ):
            try:
                await self._handle(msg)
            except Exception:
                log.exception("handling a request failed")
                trace.get_current_span().set_status(trace.StatusCode.ERROR)
                # Back to the stream soon, rather than holding a capacity slot until
                # ack_wait runs out.
                with contextlib.suppress(Exception):
                    await msg.nak(delay=_RETRY_S)
