"""Test scaffolding: a process-local fake executor speaking the real protocol over NATS.

It verifies each signed request it receives, streams `StreamEvent` chunks on the token
stream and ends with a properly signed `InferenceFinished` (the artifact is any base64:
the gateway does not look inside). It also sends signed heartbeats. It generates nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import nats
from attesta_common.canonical import canonical_json
from attesta_common.envelope import SignedRecord, read_record, sign_event
from attesta_common.events import (
    ExecutorHeartbeat,
    InferenceFinished,
    InferenceRequested,
    Receipt,
    Usage,
)
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.stream import StreamEvent, TokenLogprob, TopLogprob, splice_record
from attesta_common.subjects import (
    EXECUTOR_HEARTBEAT,
    STREAM_PREFIX_FEATURE,
    inference_requested,
    token_stream,
)
from nats.aio.client import Client
from nats.aio.msg import Msg

Behavior = Literal["ok", "silent", "error", "slow", "forged"]
TOKENS = ["Hello", " world", "!"]
PROMPT_TOKENS = 12


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def heartbeat_record(
    key: SigningKey,
    models: list[str],
    *,
    executor: str | None = None,
    sent_at_ms: int | None = None,
    features: list[str] | None = None,
) -> SignedRecord:
    beat = ExecutorHeartbeat(
        executor=executor or key.address,
        models=models,
        capacity=4,
        in_flight=0,
        sent_at_ms=sent_at_ms if sent_at_ms is not None else int(time.time() * 1000),
        features=features or [],
    )
    return sign_event(beat, key)


def finished_record(
    key: SigningKey,
    request: SignedRecord,
    tokens: list[str],
    finish_reason: Literal["stop", "length"] = "stop",
) -> SignedRecord:
    body = InferenceRequested.model_validate(request.body)
    text = "".join(tokens)
    receipt = Receipt(
        inference_id=body.inference_id,
        executor=key.address,
        model=body.model,
        prompt_hash=_h("prompt"),
        sampling_hash=_h("sampling"),
        seed=body.sampling.seed,
        output_hash=_h(text),
        artifact_hash=_h("artifact"),
        prompt_tokens=PROMPT_TOKENS,
        completion_tokens=len(tokens),
        public_key=key.public_key_hex,
    )
    receipt = receipt.model_copy(
        update={"signature": key.sign(canonical_json(receipt.signed_fields()))}
    )
    finished = InferenceFinished(
        inference_id=body.inference_id,
        epoch=body.epoch,
        executor=key.address,
        request_hash=request.hash,
        request=request.model_dump(mode="json"),
        prompt_token_ids=list(range(PROMPT_TOKENS)),
        output_token_ids=list(range(100, 100 + len(tokens))),
        text=text,
        finish_reason=finish_reason,
        usage=Usage(prompt_tokens=PROMPT_TOKENS, completion_tokens=len(tokens)),
        artifact=base64.b64encode(b"fake artifact").decode(),
        receipt=receipt,
    )
    return sign_event(finished, key)


def token_logprobs(token: str, top_k: int) -> list[TokenLogprob]:
    alternatives = [
        TopLogprob(token=f"{token}#{i}" if i else token, logprob=-0.1 * (i + 1), bytes=[])
        for i in range(top_k)
    ]
    return [
        TokenLogprob(
            token=token, logprob=-0.1, bytes=list(token.encode()), top_logprobs=alternatives
        )
    ]


@dataclass
class FakeExecutor:
    key: SigningKey
    genesis: Genesis
    behavior: Behavior = "ok"
    chunk_delay_s: float = 0.0
    # Signs the finished record with this key instead (a forgery by another executor).
    forger: SigningKey | None = None
    # Where the gateway reads `stored` events: the `end` goes out unstored, then this follows
    # `stored_delay_s` later ("silent": nothing does). None: `end` as older executors send it.
    after_early_end: Literal["stored", "error", "silent"] | None = None
    stored_delay_s: float = 0.0
    # The `end` as the executor writes it, its record's bytes spliced in (splice_record);
    # False: encoded whole, as older executors do.
    spliced_end: bool = False
    # When each `stored` event went out (loop time).
    stored_sent_at: list[float] = field(default_factory=list)
    received: list[tuple[SignedRecord, InferenceRequested]] = field(default_factory=list)
    # What its heartbeats announce; with STREAM_PREFIX_FEATURE it sends its events under
    # the prefix a request names, as the executor does (without: as older executors).
    features: list[str] = field(default_factory=list)
    _nc: Client | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _prefixes: dict[str, str | None] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.key.address

    async def start(self, nats_url: str) -> None:
        self._nc = await nats.connect(nats_url)
        await self._nc.subscribe(inference_requested(self.address), cb=self._on_request)
        self._spawn(self._heartbeats())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None:
            await self._nc.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _heartbeats(self) -> None:
        assert self._nc is not None
        models = [m.name for m in self.genesis.models]
        while True:
            await self._nc.publish(
                EXECUTOR_HEARTBEAT,
                heartbeat_record(self.key, models, features=self.features).to_bytes(),
            )
            await asyncio.sleep(0.2)

    async def _on_request(self, msg: Msg) -> None:
        record, request = read_record(msg.data, self.genesis, InferenceRequested)
        assert request.executor == self.address, "a request for another executor"
        self.received.append((record, request))
        if STREAM_PREFIX_FEATURE in self.features:
            self._prefixes[request.inference_id] = request.stream_prefix
        if self.behavior != "silent":
            self._spawn(self._answer(record, request))

    async def _send(self, event: StreamEvent) -> None:
        await self._publish(event.inference_id, event.model_dump_json().encode())

    async def _publish(self, inference_id: str, payload: bytes) -> None:
        assert self._nc is not None
        prefix = self._prefixes.get(inference_id)
        await self._nc.publish(token_stream(inference_id, prefix), payload)

    async def _answer(self, record: SignedRecord, request: InferenceRequested) -> None:
        iid = request.inference_id
        if self.behavior == "error":
            await self._send(
                StreamEvent(type="error", inference_id=iid, code="engine_failed", message="boom")
            )
            return
        top_k = self.genesis.models[0].top_k
        tokens = TOKENS[: request.sampling.max_tokens]
        for index, token in enumerate(tokens):
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            logprobs = token_logprobs(token, top_k) if request.logprobs else None
            await self._send(
                StreamEvent(
                    type="chunk",
                    inference_id=iid,
                    index=index,
                    text=token,
                    token_ids=[100 + index],
                    logprobs=logprobs,
                )
            )
        finish: Literal["stop", "length"] = "length" if len(tokens) < len(TOKENS) else "stop"
        finished = finished_record(self.forger or self.key, record, tokens, finish)
        body = InferenceFinished.model_validate(finished.body)
        early = self.after_early_end is not None and request.end_before_stored
        end = StreamEvent(
            type="end",
            inference_id=iid,
            finish_reason=body.finish_reason,
            usage=body.usage,
            record=None if self.spliced_end else finished.model_dump(mode="json"),
            stored=not early,
        )
        if self.spliced_end:
            head = end.model_dump_json(exclude={"record"}).encode()
            await self._publish(iid, splice_record(head, finished.to_bytes()))
        else:
            await self._send(end)
        if early and self.after_early_end != "silent":
            await asyncio.sleep(self.stored_delay_s)
            if self.after_early_end == "stored":
                self.stored_sent_at.append(asyncio.get_running_loop().time())
                await self._send(StreamEvent(type="stored", inference_id=iid))
            else:
                await self._send(
                    StreamEvent(type="error", inference_id=iid, code="broker_gone", message="x")
                )


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until `condition()` holds; heartbeats and NATS deliveries are asynchronous."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)
