"""One inference is one trace: the client's traceparent continues through the gateway's
server span, the JetStream publish of the request, the executor's processing and its
publish of the finished record, to the validator's check and its verdict. Real NATS, real
Postgres, the real model; spans collected in memory."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from attesta_common.db import create_pool
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_devnet.ports import free_port
from attesta_engine.loader import load_reference_engine
from attesta_engine.reference import ReferenceEngine
from attesta_executor.service import Executor
from attesta_executor.settings import ExecutorSettings
from attesta_gateway.accounts import create_account
from attesta_gateway.settings import GatewaySettings
from attesta_validator.main import Validator
from attesta_validator.settings import ValidatorSettings
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.model
# tests/integration/conftest.py: (settings[, tracer provider]) -> async context of the URL.
ServeGateway = Callable[..., AbstractAsyncContextManager[str]]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def engine() -> ReferenceEngine:
    from attesta_common.genesis import ModelSpec

    return load_reference_engine(ModelSpec(name="SmolLM2-135M-Instruct"))


def _by_kind(spans: list[ReadableSpan], kind: SpanKind, subject: str) -> ReadableSpan:
    return next(s for s in spans if s.kind == kind and subject in s.name)


async def test_one_inference_is_one_trace(
    tmp_path: Path,
    nats_url: str,
    database_url: str,
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
    serve_gateway: ServeGateway,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    genesis_path, key_path = tmp_path / "genesis.json", tmp_path / "gateway.key"
    genesis.save(genesis_path)
    devnet_keys.gateway.save(key_path)
    gateway_settings = GatewaySettings(
        nats_url=nats_url,
        database_url=database_url,
        genesis_path=genesis_path,
        key_path=key_path,
        port=free_port(),
    )
    executor = Executor(
        ExecutorSettings(nats_url=nats_url),
        genesis,
        devnet_keys.executors[0],
        engine=engine,
        tracer_provider=provider,
    )
    validator = Validator(
        ValidatorSettings(nats_url=nats_url),
        genesis=genesis,
        key=devnet_keys.validators[0],
        engine=engine,
        tracer_provider=provider,
    )
    async with serve_gateway(gateway_settings, provider) as url:
        pool = await create_pool(database_url, max_size=2)
        await create_account(pool, "trace", "sk-attesta-trace", 1_000_000)
        await pool.close()
        await executor.start()
        await validator.start()
        try:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                while not (  # noqa: ASYNC110 - polling the live API on purpose
                    await client.get(
                        "/v1/models", headers={"Authorization": "Bearer sk-attesta-trace"}
                    )
                ).json()["data"]:
                    await asyncio.sleep(0.2)
                reply = await client.post(
                    "/v1/chat/completions",
                    headers={
                        "Authorization": "Bearer sk-attesta-trace",
                        "traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01",
                    },
                    json={
                        "model": "SmolLM2-135M-Instruct",
                        "max_tokens": 6,
                        "messages": [{"role": "user", "content": "Hi"}],
                    },
                )
                assert reply.status_code == 200, reply.text
            # The validator's verdict closes the trace; generous for a loaded machine.
            for _ in range(1200):
                spans = [
                    s
                    for s in exporter.get_finished_spans()
                    if f"{s.context.trace_id:032x}" == TRACE_ID
                ]
                if any(s.kind == SpanKind.PRODUCER and "verdict" in s.name for s in spans):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"no verdict span after 120 s: {[s.name for s in spans]}")
        finally:
            await validator.stop()
            await executor.stop()
    server = next(s for s in spans if s.kind == SpanKind.SERVER)
    chain = [
        server,
        _by_kind(spans, SpanKind.PRODUCER, "inference.requested"),
        _by_kind(spans, SpanKind.CONSUMER, "inference.requested"),
        _by_kind(spans, SpanKind.PRODUCER, "inference.finished"),
        _by_kind(spans, SpanKind.CONSUMER, "inference.finished"),
        _by_kind(spans, SpanKind.PRODUCER, "validation.verdict"),
    ]
    assert server.parent is not None and f"{server.parent.span_id:016x}" == CLIENT_SPAN
    for parent, child in itertools.pairwise(chain):
        assert child.parent is not None, child.name
        assert child.parent.span_id == parent.context.span_id, (parent.name, child.name)
    assert server.attributes is not None
    assert server.attributes["attesta.inference_id"] == reply.json()["id"]
    generate = next(s for s in spans if s.name == "executor.generate")
    assert generate.parent is not None and generate.parent.span_id == chain[2].context.span_id
    attributes = dict(generate.attributes or {})
    usage = reply.json()["usage"]
    assert attributes["gen_ai.request.model"] == "SmolLM2-135M-Instruct"
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert float(attributes["attesta.time_to_first_token_s"]) > 0
