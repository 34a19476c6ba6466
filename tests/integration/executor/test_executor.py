"""The executor on a real nats-server with the reference model: records, stream, replay,
rejection, failures, concurrency, heartbeats and redelivery."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from attesta_common.artifact import TopKArtifact
from attesta_common.broker import MSG_ID_HEADER
from attesta_common.envelope import SignedRecord, read_record
from attesta_common.events import (
    ExecutorHeartbeat,
    InferenceFailed,
    InferenceFinished,
)
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.receipts import receipt_problems
from attesta_common.record_publisher import publish_record
from attesta_common.roles import Role
from attesta_common.sampling import choose_token
from attesta_common.stream import StreamEvent
from attesta_common.subjects import (
    RECORDS_STREAM,
    STREAM_PREFIX_FEATURE,
    inference_failed,
    inference_finished,
    inference_requested,
)
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.reference import ReferenceEngine
from attesta_executor.service import Executor
from executor_requests import (
    ExecutorFactory,
    Heartbeats,
    TokenStream,
    last_on,
    request_record,
    run_request,
    stored_on,
)
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

pytestmark = pytest.mark.model


async def test_chat_request_is_generated_signed_and_replayable(
    executor: Executor,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    record, request = request_record(
        devnet_keys.gateway, executor.address, logprobs=True, top_logprobs=3
    )
    stream = await run_request(nc, gateway_broker, record, request)

    end = stream.events[-1]
    assert end.type == "end" and end.record is not None
    js = nc.jetstream()
    stored = await last_on(js, inference_finished(executor.address))
    finished_record, finished = read_record(stored, genesis, InferenceFinished)
    assert finished_record.to_bytes() == SignedRecord.model_validate(end.record).to_bytes()
    assert genesis.has_role(finished_record.signer, Role.EXECUTOR)

    assert "".join(c.text for c in stream.chunks) == finished.text
    assert [t for c in stream.chunks for t in c.token_ids] == finished.output_token_ids
    assert finished.request_hash == record.hash
    assert finished.request == record.model_dump(mode="json")
    assert finished.usage.prompt_tokens == len(finished.prompt_token_ids)
    assert finished.usage.completion_tokens == len(finished.output_token_ids) <= 16
    assert end.finish_reason == finished.finish_reason and end.usage == finished.usage

    artifact_bytes = base64.b64decode(finished.artifact)
    assert (
        receipt_problems(
            finished.receipt,
            request,
            finished.prompt_token_ids,
            finished.output_token_ids,
            artifact_bytes,
        )
        == []
    )
    artifact = TopKArtifact.decode_b64(finished.artifact)
    assert artifact.k == genesis.models[0].top_k
    assert artifact.positions == len(finished.output_token_ids)
    for position, token in enumerate(finished.output_token_ids):
        replayed = choose_token(
            artifact.token_ids[position],
            artifact.logprobs[position],
            request.sampling.temperature,
            request.sampling.top_p,
            request.sampling.seed,
            position,
        )
        assert replayed == token

    # Logprobs were asked for: one per chunk, with the reported numbers.
    token_chunks = [c for c in stream.chunks if c.token_ids]
    for chunk in token_chunks:
        assert chunk.logprobs is not None and len(chunk.logprobs) == 1
        entry = chunk.logprobs[0]
        position = chunk.index
        row = dict(zip(artifact.token_ids[position], artifact.logprobs[position], strict=True))
        assert entry.logprob == pytest.approx(row[chunk.token_ids[0]], abs=1e-6)
        assert len(entry.top_logprobs) == 3
        assert entry.bytes == list(entry.token.encode())


async def test_end_before_stored_is_followed_by_stored_once_jetstream_has_the_record(
    executor: Executor, nc: NatsClient, gateway_broker: NatsBroker, devnet_keys: DevnetKeys
) -> None:
    record, request = request_record(devnet_keys.gateway, executor.address, end_before_stored=True)
    subject = inference_finished(executor.address)
    js = nc.jetstream()
    before = await stored_on(js, subject)
    # What JetStream held when `stored` arrived (that it is sent only after the ack is
    # tests/unit/executor/test_executor_outbox.py's to prove: here the look itself takes a
    # round trip).
    held: dict[str, int] = {}
    stream = await TokenStream.open(nc, request.inference_id)

    async def look(event: StreamEvent) -> None:
        if event.type == "stored":
            held[event.type] = await stored_on(js, subject) - before

    stream.on_event = look
    await publish_record(gateway_broker, inference_requested(executor.address), record)
    await stream.closed(30.0)

    end, stored = stream.events[-2:]
    assert (end.type, end.stored, stored.type) == ("end", False, "stored")
    assert held["stored"] == 1
    assert end.record is not None
    assert await last_on(js, subject) == SignedRecord.model_validate(end.record).to_bytes()


async def test_same_seed_same_tokens_and_no_logprobs_unless_asked(
    executor: Executor, nc: NatsClient, gateway_broker: NatsBroker, devnet_keys: DevnetKeys
) -> None:
    outputs = []
    for _ in range(2):
        record, request = request_record(devnet_keys.gateway, executor.address, seed=99)
        stream = await run_request(nc, gateway_broker, record, request)
        assert all(c.logprobs is None for c in stream.chunks)
        assert stream.events[-1].record is not None
        outputs.append(stream.events[-1].record["body"]["output_token_ids"])  # type: ignore[index]
    assert outputs[0] == outputs[1]


async def test_forged_misaddressed_and_foreign_requests_never_run(
    executor: Executor,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    subject = inference_requested(executor.address)
    genuine, _ = request_record(devnet_keys.gateway, executor.address)
    forged = genuine.model_copy(update={"signature": "11" * 64})
    by_executor = request_record(devnet_keys.executors[1], executor.address)[0]
    by_stranger = request_record(SigningKey.generate(), executor.address)[0]
    misaddressed = request_record(devnet_keys.gateway, devnet_keys.executors[1].address)[0]
    unknown_model = request_record(devnet_keys.gateway, executor.address, model="gpt-9")[0]
    refused = [forged, by_executor, by_stranger, misaddressed, unknown_model]
    streams = [await TokenStream.open(nc, r.body["inference_id"]) for r in refused]

    js = nc.jetstream()
    await js.publish(subject, b'{"not": "a record"}', headers={MSG_ID_HEADER: "garbage"})
    for record in refused:
        await publish_record(gateway_broker, subject, record)
    # A genuine request after them still runs: the refused ones did not block the consumer.
    record, request = request_record(devnet_keys.gateway, executor.address, max_tokens=4)
    await run_request(nc, gateway_broker, record, request)
    await asyncio.sleep(0.5)

    assert all(not s.events for s in streams)
    assert await stored_on(js, inference_finished(executor.address)) == 1
    assert await stored_on(js, inference_failed(executor.address)) == 0
    consumer = await js.consumer_info(RECORDS_STREAM, f"executor-{executor.address}")
    assert consumer.num_ack_pending == 0 and consumer.num_redelivered == 0
    assert consumer.num_pending == 0


async def test_unservable_requests_are_answered_with_signed_failures(
    executor: Executor,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    js = nc.jetstream()
    too_long = request_record(devnet_keys.gateway, executor.address, max_tokens=2048)
    late = request_record(devnet_keys.gateway, executor.address, deadline_s=-1.0)
    for (record, request), code in (
        (too_long, "context_length_exceeded"),
        (late, "deadline_exceeded"),
    ):
        stream = await run_request(nc, gateway_broker, record, request)
        assert [e.type for e in stream.events] == ["error"]
        assert stream.events[0].code == code
        stored = await last_on(js, inference_failed(executor.address))
        failure_record, failure = read_record(stored, genesis, InferenceFailed)
        assert failure_record.signer == executor.address
        assert (failure.inference_id, failure.code) == (request.inference_id, code)
        assert failure.request_hash == record.hash
    assert await stored_on(js, inference_finished(executor.address)) == 0
    consumer = await js.consumer_info(RECORDS_STREAM, f"executor-{executor.address}")
    assert consumer.num_ack_pending == 0


class BrokenEngine:
    """The reference engine whose generation fails after its first token."""

    def __init__(self, engine: object) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)

    def generate(self, spec: object, on_step: object = None, should_stop: object = None) -> None:
        def fail_after_first(step: object) -> None:
            if callable(on_step):
                on_step(step)
            raise RuntimeError("engine fell over")

        self._engine.generate(spec, fail_after_first, should_stop)  # type: ignore[attr-defined]


async def test_engine_failure_is_answered_and_acked(
    make_executor: ExecutorFactory,
    engine: ReferenceEngine,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    executor = make_executor(engine=BrokenEngine(engine))
    await executor.start()
    record, request = request_record(devnet_keys.gateway, executor.address)
    stream = await run_request(nc, gateway_broker, record, request)
    assert [e.type for e in stream.events] == ["chunk", "error"]
    assert stream.events[-1].code == "engine_error"
    await asyncio.sleep(0.3)
    js = nc.jetstream()
    consumer = await js.consumer_info(RECORDS_STREAM, f"executor-{executor.address}")
    assert consumer.num_ack_pending == 0 and consumer.num_redelivered == 0


async def test_concurrent_requests_finish_while_heartbeats_keep_coming(
    executor: Executor,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    beats = await Heartbeats.listen(nc)
    long = request_record(
        devnet_keys.gateway,
        executor.address,
        endpoint="completion",
        prompt="The history of the city began",
        max_tokens=32,
    )
    short = request_record(devnet_keys.gateway, executor.address, max_tokens=8)
    started = time.monotonic()
    streams = await asyncio.gather(
        *(run_request(nc, gateway_broker, record, request) for record, request in (long, short))
    )
    ended = time.monotonic()
    assert [s.events[-1].type for s in streams] == ["end", "end"]
    assert len(streams[0].chunks) >= 8

    during = [read_record(b, genesis, ExecutorHeartbeat)[1] for b in beats.between(started, ended)]
    # Every 0.2 s; allow for the first interval and scheduling jitter.
    assert len(during) >= max(2, int((ended - started) / 0.2) - 2)
    assert all(b.executor == executor.address and b.capacity == 4 for b in during)
    # Gateways send it requests naming their stream prefix (attesta_gateway.token_streams).
    assert all(b.features == [STREAM_PREFIX_FEATURE] for b in during)
    assert max(b.in_flight for b in during) >= 1
