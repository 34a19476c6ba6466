"""Honest controls: real answers that every check must pass.

Kinds: the reference engine itself (the executor's code path, 2 threads), the same with 1
thread, a repeated run of the same request, and the bench decode loop at batch sizes 1, 4
and 16 (left padding, attention mask). vLLM is used where installed; it is not here.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from attesta_common.artifact import TopKArtifact
from attesta_engine.port import GenerationSpec

from bench.detection.decode import Run, decode
from bench.detection.harness import Harness, Request, Verdict, sampling_of
from bench.detection.workload import sample

# Share of the honest checks per kind, and the batch each kind generates at once.
MIX = {
    "engine": (0.3, 1),
    "engine-1-thread": (0.1, 1),
    "repeated-run": (0.1, 1),
    "batch-1": (0.1, 1),
    "batch-4": (0.15, 4),
    "batch-16": (0.25, 16),
}
VLLM_INSTALLED = importlib.util.find_spec("vllm") is not None


@dataclass(frozen=True)
class HonestCheck:
    kind: str
    verdict: Verdict
    generate_seconds: float  # per sequence (a batch's time divided by its size)
    artifact_bytes: int
    positions: int
    artifact: TopKArtifact


def plan(total: int) -> dict[str, int]:
    """Checks per kind: at least one batch of each kind, whole batches only."""
    counts = {}
    for kind, (share, batch) in MIX.items():
        counts[kind] = max(batch, round(share * total / batch) * batch)
    return counts


def _engine_run(h: Harness, request: Request, threads: int) -> tuple[Run, float]:
    s = request.sample
    spec = GenerationSpec(request.prompt_ids, s.temperature, s.top_p, s.max_tokens, s.seed)
    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        gen = h.engine.generate(spec)
    finally:
        elapsed = time.perf_counter() - started
        torch.set_num_threads(h.threads)
    table = gen.artifact
    return Run(gen.output_token_ids, list(table.token_ids), list(table.logprobs)), elapsed


def _batch_runs(h: Harness, requests: list[Request]) -> tuple[list[Run], float]:
    started = time.perf_counter()
    runs = decode(
        h.engine._model,
        [r.prompt_ids for r in requests],
        [sampling_of(r.sample) for r in requests],
        requests[0].sample.max_tokens,
        h.engine.eos_token_ids,
        top_k=h.model.top_k,
    )
    return runs, (time.perf_counter() - started) / len(requests)


def honest_checks(
    h: Harness, total: int, max_tokens: int, first_index: int = 100_000
) -> Iterator[HonestCheck]:
    """Yields one checked honest inference at a time (so callers can show progress)."""
    index, repeat_of = first_index, first_index
    for kind, count in plan(total).items():
        batch = MIX[kind][1]
        for _ in range(count // batch):
            # A repeated run re-sends the request of an earlier engine run (same id, seed).
            base = repeat_of if kind == "repeated-run" else index
            requests = [h.request(sample(base + i, max_tokens)) for i in range(batch)]
            index += batch
            if kind.startswith("batch-"):
                runs, seconds = _batch_runs(h, requests)
            else:
                run, seconds = _engine_run(h, requests[0], 1 if kind == "engine-1-thread" else 2)
                runs = [run]
            if kind == "repeated-run":
                repeat_of += 1
            for request, run in zip(requests, runs, strict=True):
                yield _checked(h, kind, request, run, seconds)


def _checked(h: Harness, kind: str, request: Request, run: Run, seconds: float) -> HonestCheck:
    record = h.finish(request, run)
    table = TopKArtifact.build(h.model.top_k, run.ids, run.logprobs)
    size = len(table.encode())
    return HonestCheck(kind, h.check(record), seconds, size, len(run.tokens), table)
