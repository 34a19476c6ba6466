"""An executor sends a request's token-stream events under the gateway prefix the request
names (attesta_gateway.token_streams reads them through one subscription)."""

from __future__ import annotations

import asyncio

from attesta_common.record_publisher import publish_record
from attesta_common.subjects import gateway_stream_prefix, inference_requested
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_executor.service import Executor
from executor_requests import TokenStream, request_record
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient


async def test_events_go_under_the_gateway_prefix_the_request_names(
    executor: Executor, nc: NatsClient, gateway_broker: NatsBroker, devnet_keys: DevnetKeys
) -> None:
    prefix = gateway_stream_prefix("test")
    record, request = request_record(
        devnet_keys.gateway, executor.address, end_before_stored=True, stream_prefix=prefix
    )
    own = await TokenStream.open(nc, request.inference_id)
    shared = await TokenStream.open(nc, request.inference_id, prefix)
    await publish_record(gateway_broker, inference_requested(executor.address), record)
    await shared.closed(30.0)
    assert [e.type for e in shared.events][-2:] == ["end", "stored"]
    await asyncio.sleep(0.1)
    assert own.events == []  # nothing on the inference's own subject
    await own.close()
    await shared.close()
