"""An executor on vLLM (settings `engine=vllm`), on a real nats-server: concurrent requests
are batched, and every record's tokens replay from its reported top-k.

Runs in the vLLM environment (.venv-vllm); skipped where vLLM is not installed, or fails
there with ATTESTA_REQUIRE_VLLM=1 (CI).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time

import pytest
from attesta_common.artifact import TopKArtifact
from attesta_common.envelope import SignedRecord, read_record
from attesta_common.events import InferenceFinished, InferenceRequested
from attesta_common.genesis import Genesis
from attesta_common.record_publisher import publish_record
from attesta_common.sampling import choose_token
from attesta_common.subjects import inference_requested
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.port import ConcurrentEngine
from attesta_executor.service import Executor
from executor_requests import ExecutorFactory, TokenStream, request_record
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

pytestmark = [pytest.mark.model, pytest.mark.vllm]
CONCURRENT = 4

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("ATTESTA_REQUIRE_VLLM") == "1":
        raise RuntimeError("ATTESTA_REQUIRE_VLLM=1 but vLLM is not installed here")
    pytest.skip("vLLM is not installed here (.venv-vllm)", allow_module_level=True)


@pytest.fixture(scope="module")
def engine() -> None:
    """No engine handed in: the executor loads vLLM itself from its settings."""
    return None


@pytest.fixture
async def vllm_executor(make_executor: ExecutorFactory) -> Executor:
    executor = make_executor(
        settings={
            "engine": "vllm",
            "capacity": 8,
            "vllm_max_model_len": 512,
            "vllm_enforce_eager": True,
        }
    )
    await executor.start()
    return executor


async def _run(
    nc: NatsClient, broker: NatsBroker, executor: Executor, keys: DevnetKeys, seeds: range
) -> tuple[float, list[TokenStream]]:
    made = [request_record(keys.gateway, executor.address, max_tokens=24, seed=s) for s in seeds]
    streams = [await TokenStream.open(nc, request.inference_id) for _, request in made]
    started = time.perf_counter()
    for record, request in made:
        await publish_record(broker, inference_requested(request.executor), record)
    await asyncio.gather(*(s.closed(120) for s in streams))
    return time.perf_counter() - started, streams


async def test_vllm_executor_batches_and_its_records_replay(
    vllm_executor: Executor,
    nc: NatsClient,
    gateway_broker: NatsBroker,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    assert isinstance(vllm_executor.engine, ConcurrentEngine)
    await _run(nc, gateway_broker, vllm_executor, devnet_keys, range(1))  # warm-up
    one_s, _ = await _run(nc, gateway_broker, vllm_executor, devnet_keys, range(1, 2))
    all_s, streams = await _run(
        nc, gateway_broker, vllm_executor, devnet_keys, range(2, 2 + CONCURRENT)
    )
    print(f"\nvLLM executor: {CONCURRENT} concurrent {all_s:.2f} s, one alone {one_s:.2f} s")
    for stream in streams:
        end = stream.events[-1]
        assert end.type == "end" and end.record is not None
        record = SignedRecord.model_validate(end.record)
        _, finished = read_record(record.to_bytes(), genesis, InferenceFinished)
        assert "".join(c.text for c in stream.chunks) == finished.text
        artifact = TopKArtifact.decode_b64(finished.artifact)
        sampling = InferenceRequested.model_validate(
            SignedRecord.model_validate(finished.request).body
        ).sampling
        for position, token in enumerate(finished.output_token_ids):
            replayed = choose_token(
                artifact.token_ids[position],
                artifact.logprobs[position],
                sampling.temperature,
                sampling.top_p,
                sampling.seed,
                position,
            )
            assert replayed == token
    # One by one they would take CONCURRENT times as long.
    assert all_s < 0.6 * CONCURRENT * one_s
