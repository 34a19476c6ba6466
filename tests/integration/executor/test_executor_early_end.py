"""An executor with more requests in hand than `early_end_max_in_flight` answers a gateway
that asked for an early `end` with one `end` after the store (attesta_executor.outbox)."""

from __future__ import annotations

from attesta_common.envelope import SignedRecord
from attesta_common.record_publisher import publish_record
from attesta_common.subjects import inference_finished, inference_requested
from attesta_devnet.genesis_builder import DevnetKeys
from executor_requests import ExecutorFactory, TokenStream, last_on, request_record
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient


async def test_a_busy_executor_sends_one_stored_end(
    make_executor: ExecutorFactory,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
) -> None:
    # 0: even the request itself counts as busy.
    executor = make_executor(settings={"early_end_max_in_flight": 0})
    await executor.start()
    record, request = request_record(devnet_keys.gateway, executor.address, end_before_stored=True)
    stream = await TokenStream.open(nc, request.inference_id)
    await publish_record(gateway_broker, inference_requested(executor.address), record)
    end = await stream.closed(30.0)
    assert [e.type for e in stream.events if e.type != "chunk"] == ["end"]
    assert (end.type, end.stored) == ("end", True)
    assert end.record is not None
    stored = await last_on(nc.jetstream(), inference_finished(executor.address))
    assert stored == SignedRecord.model_validate(end.record).to_bytes()
    await stream.close()
