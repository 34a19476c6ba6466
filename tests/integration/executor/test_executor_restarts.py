"""Restarts and the durable consumer (attesta_executor.durable): a redelivered request
gives one record, a shutdown lets generation finish or hands it back, and a consumer
deleted under a running executor comes back delivering new requests only."""

from __future__ import annotations

import asyncio

import nats.js.errors
import pytest
from attesta_common.broker import MSG_ID_HEADER
from attesta_common.record_publisher import publish_record
from attesta_common.subjects import (
    RECORDS_STREAM,
    inference_failed,
    inference_finished,
    inference_requested,
)
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_executor.service import Executor
from executor_requests import (
    ExecutorFactory,
    TokenStream,
    request_record,
    run_request,
    stored_on,
)
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js.api import DeliverPolicy

pytestmark = pytest.mark.model


async def test_redelivered_request_yields_one_record_even_after_a_restart(
    make_executor: ExecutorFactory,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    js = nc.jetstream()
    first = make_executor()
    await first.start()
    record, request = request_record(devnet_keys.gateway, first.address, max_tokens=12)
    subject = inference_requested(first.address)
    original = (await run_request(nc, gateway_broker, record, request)).events[-1].record

    async def redeliver(msg_id: str) -> dict[str, object] | None:
        stream = await TokenStream.open(nc, request.inference_id)
        await js.publish(subject, record.to_bytes(), headers={MSG_ID_HEADER: msg_id})
        return (await stream.closed()).record

    # The same executor answers from memory; a fresh one regenerates the same bytes.
    assert await redeliver("again-1") == original
    await first.stop()
    # A restart with another capacity also brings the durable consumer up to date.
    second = make_executor(settings={"capacity": 2})
    await second.start()
    assert await redeliver("again-2") == original
    assert await stored_on(js, inference_finished(first.address)) == 1
    consumer = await js.consumer_info(RECORDS_STREAM, f"executor-{first.address}")
    assert consumer.config.max_ack_pending == 2


async def test_shutdown_lets_generation_finish_or_hands_it_back(
    make_executor: ExecutorFactory,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    js = nc.jetstream()

    async def stopped_while_generating(executor: Executor) -> TokenStream:
        await executor.start()
        record, request = request_record(devnet_keys.gateway, executor.address, max_tokens=24)
        stream = await TokenStream.open(nc, request.inference_id)
        await publish_record(gateway_broker, inference_requested(executor.address), record)
        await stream.first_chunk()
        await executor.stop()
        return stream

    graceful = make_executor()
    stream = await stopped_while_generating(graceful)
    assert stream.events[-1].type == "end"
    assert await stored_on(js, inference_finished(graceful.address)) == 1

    # No grace: the generation is abandoned, its request goes back and the next start
    # (same durable consumer) finishes it.
    hasty = make_executor(settings={"shutdown_grace_s": 0.0})
    stream = await stopped_while_generating(hasty)
    assert stream.events[-1].type == "chunk"
    successor = make_executor()
    await successor.start()
    assert (await stream.closed()).type == "end"
    assert await stored_on(js, inference_finished(hasty.address)) == 2


async def test_a_consumer_deleted_under_the_executor_comes_back_for_new_requests(
    make_executor: ExecutorFactory,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    executor = make_executor()
    await executor.start()
    served_record, served = request_record(devnet_keys.gateway, executor.address, max_tokens=2)
    assert (await run_request(nc, gateway_broker, served_record, served)).events[-1].type == "end"
    js = nc.jetstream()
    durable = f"executor-{executor.address}"
    # Created delivering new requests only, and re-created so.
    assert (await js.consumer_info(RECORDS_STREAM, durable)).config.deliver_policy == (
        DeliverPolicy.NEW
    )
    await js.delete_consumer(RECORDS_STREAM, durable)

    info = None
    for _ in range(100):  # the standing pull request hears "409 Consumer Deleted" at once
        try:
            info = await js.consumer_info(RECORDS_STREAM, durable)
            break
        except nats.js.errors.NotFoundError:
            await asyncio.sleep(0.1)
    assert info is not None, "the consumer was not re-created"
    # From new requests: from the stream's start it would replay the one already served.
    assert info.config.deliver_policy == DeliverPolicy.NEW
    record, request = request_record(devnet_keys.gateway, executor.address, max_tokens=2)
    stream = await run_request(nc, gateway_broker, record, request)
    assert stream.events[-1].type == "end"
    assert await stored_on(js, inference_finished(executor.address)) == 2
    assert await stored_on(js, inference_failed(executor.address)) == 0

    # A restart declares the consumer again, keeping the policy it now has (NATS refuses
    # to change it), and serves on.
    await executor.stop()
    restarted = make_executor()
    await restarted.start()
    assert (await js.consumer_info(RECORDS_STREAM, durable)).config.deliver_policy == (
        DeliverPolicy.NEW
    )
    record, request = request_record(devnet_keys.gateway, executor.address, max_tokens=2)
    assert (await run_request(nc, gateway_broker, record, request)).events[-1].type == "end"
