"""Signed requests as the gateway makes them, listeners for what the executor sends, and
one request run through a live executor."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import ChatMessage, InferenceRequested, SamplingParams
from attesta_common.keys import SigningKey
from attesta_common.record_publisher import publish_record
from attesta_common.stream import StreamEvent
from attesta_common.subjects import (
    EXECUTOR_HEARTBEAT,
    RECORDS_STREAM,
    inference_requested,
    token_stream,
)
from attesta_devnet.genesis_builder import REFERENCE_MODEL
from attesta_executor.service import Executor
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

# Builds an executor on the test's nats-server (keyword overrides: settings, key, engine).
ExecutorFactory = Callable[..., Executor]

QUESTION = [ChatMessage(role="user", content="Name three colours.")]


def request_record(
    signer: SigningKey,
    executor: str,
    *,
    inference_id: str | None = None,
    endpoint: str = "chat",
    model: str = REFERENCE_MODEL,
    messages: list[ChatMessage] | None = None,
    prompt: str | None = None,
    max_tokens: int = 16,
    seed: int = 1234,
    temperature: float = 0.8,
    logprobs: bool = False,
    top_logprobs: int = 0,
    deadline_s: float = 60.0,
    end_before_stored: bool = False,
    stream_prefix: str | None = None,
) -> tuple[SignedRecord, InferenceRequested]:
    now_ms = int(time.time() * 1000)
    request = InferenceRequested(
        inference_id=inference_id or f"inf_{uuid.uuid4().hex[:16]}",
        endpoint=endpoint,  # type: ignore[arg-type]
        epoch=0,
        model=model,
        messages=(messages or QUESTION) if endpoint == "chat" else None,
        prompt=prompt,
        sampling=SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        account="acct_test",
        executor=executor,
        reserved=1000,
        requested_at_ms=now_ms,
        deadline_ms=now_ms + int(deadline_s * 1000),
        end_before_stored=end_before_stored,
        stream_prefix=stream_prefix,
    )
    return sign_event(request, signer), request


class TokenStream:
    """Every event on one inference's token stream, until its `error`, its `end` or, after
    an `end` sent before its record was stored, its `stored`."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        # Run on each event before the stream may close (a look at JetStream, say).
        self.on_event: Callable[[StreamEvent], Awaitable[None]] | None = None
        self._closed = asyncio.Event()
        self._started = asyncio.Event()
        self._sub: Any = None

    @classmethod
    async def open(
        cls, nc: NatsClient, inference_id: str, prefix: str | None = None
    ) -> TokenStream:
        stream = cls()

        async def on_message(msg: Any) -> None:
            event = StreamEvent.model_validate_json(msg.data)
            stream.events.append(event)
            if stream.on_event is not None:
                await stream.on_event(event)
            stream._started.set()
            if event.type in ("stored", "error") or (event.type == "end" and event.stored):
                stream._closed.set()

        stream._sub = await nc.subscribe(token_stream(inference_id, prefix), cb=on_message)
        await nc.flush()
        return stream

    async def closed(self, timeout: float = 30.0) -> StreamEvent:
        await asyncio.wait_for(self._closed.wait(), timeout)
        return self.events[-1]

    async def first_chunk(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._started.wait(), timeout)

    @property
    def chunks(self) -> list[StreamEvent]:
        return [e for e in self.events if e.type == "chunk"]

    async def close(self) -> None:
        await self._sub.unsubscribe()


class Heartbeats:
    def __init__(self) -> None:
        self.received: list[tuple[float, bytes]] = []

    @classmethod
    async def listen(cls, nc: NatsClient) -> Heartbeats:
        beats = cls()

        async def on_message(msg: Any) -> None:
            beats.received.append((time.monotonic(), msg.data))

        await nc.subscribe(EXECUTOR_HEARTBEAT, cb=on_message)
        await nc.flush()
        return beats

    def between(self, start: float, end: float) -> list[bytes]:
        return [data for at, data in self.received if start <= at <= end]


async def stored_on(js: JetStreamContext, subject: str) -> int:
    """How many records the stream holds on one subject."""
    info = await js.stream_info(RECORDS_STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def last_on(js: JetStreamContext, subject: str) -> bytes:
    msg = await js.get_last_msg(RECORDS_STREAM, subject)
    assert msg.data is not None
    return msg.data


async def run_request(
    nc: NatsClient,
    broker: NatsBroker,
    record: SignedRecord,
    request: InferenceRequested,
    *,
    timeout: float = 30.0,
) -> TokenStream:
    stream = await TokenStream.open(nc, request.inference_id)
    await publish_record(broker, inference_requested(request.executor), record)
    await stream.closed(timeout)
    return stream
