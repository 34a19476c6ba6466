"""vLLM batches concurrent generations, and batching changes no token."""

from __future__ import annotations

import asyncio
import time

import pytest
from attesta_engine.port import ConcurrentEngine, Generation, GenerationSpec
from engine_cases import spec_for
from engine_pool import EnginePool

pytestmark = [pytest.mark.model, pytest.mark.vllm]
CONCURRENT = 4


def _specs(engine: ConcurrentEngine, count: int) -> list[GenerationSpec]:
    base = spec_for(engine, "sampled")  # type: ignore[arg-type]
    return [GenerationSpec(base.prompt_token_ids, 0.8, 0.95, 24, seed) for seed in range(count)]


async def _timed(
    engine: ConcurrentEngine, specs: list[GenerationSpec]
) -> tuple[float, list[Generation]]:
    started = time.perf_counter()
    results = await asyncio.gather(*(engine.generate_async(s) for s in specs))
    return time.perf_counter() - started, list(results)


async def test_concurrent_generations_batch_and_keep_their_tokens(
    engine_pool: EnginePool,
) -> None:
    engine = engine_pool.get("vllm")
    assert isinstance(engine, ConcurrentEngine)
    specs = _specs(engine, CONCURRENT)
    alone = [engine.generate(s) for s in specs]  # also warms vLLM up
    one_s, _ = await _timed(engine, specs[:1])
    all_s, together = await _timed(engine, specs)
    for a, b in zip(alone, together, strict=True):
        assert a.output_token_ids == b.output_token_ids
        for row_a, row_b in zip(a.artifact.logprobs, b.artifact.logprobs, strict=True):
            # Batching moves float32 numbers by ~1e-5; on the reporting grid that can be
            # one relative step (5e-6 of the value each way).
            assert row_a == pytest.approx(row_b, rel=2e-5, abs=1e-4)
    print(f"\n{CONCURRENT} concurrent: {all_s:.2f} s; one alone: {one_s:.2f} s")
    # Queued one by one they would take CONCURRENT times as long.
    assert all_s < 0.6 * CONCURRENT * one_s


async def test_cancelling_the_caller_aborts_in_vllm(engine_pool: EnginePool) -> None:
    engine = engine_pool.get("vllm")
    assert isinstance(engine, ConcurrentEngine)
    spec = GenerationSpec(_specs(engine, 1)[0].prompt_token_ids, 0.8, 0.95, 400, 1)
    task = asyncio.ensure_future(engine.generate_async(spec))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The engine is free: a short generation completes promptly.
    short = await asyncio.wait_for(engine.generate_async(_specs(engine, 1)[0]), 30)
    assert short.output_token_ids
