"""Honest controls: real answers that every check must pass.

Kinds: the reference engine itself (the executor's code path, 2 threads), the same with 1
thread, a repeated run of the same request, and the bench decode loop at batch sizes 1, 4
and 16 (left padding, attention mask). Where vLLM is installed (`make
bench-detection-vllm`), two more: vLLM generates and the reference engine checks, and the
reference engine generates and a validator on vLLM checks.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import torch
from attesta_common.artifact import TopKArtifact
from attesta_engine.port import Engine, GenerationSpec

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
# The engines checking each other's work: (generator, validator), both with 2 threads.
CROSS = {"vllm->reference": ("vllm", "reference"), "reference->vllm": ("reference", "vllm")}
# Share and batch of every kind, the cross-engine ones included.
KINDS = {**MIX, **{kind: (0.5, 1) for kind in CROSS}}
VLLM_INSTALLED = importlib.util.find_spec("vllm") is not None


@dataclass(frozen=True)
class HonestCheck:
    kind: str
    verdict: Verdict
    generate_seconds: float  # per sequence (a batch's time divided by its size)
    artifact_bytes: int
    positions: int
    artifact: TopKArtifact
    # Before the grid where the run saw raw numbers (the bench's decode loop); an engine's
    # `generate` reports grid values only, so for those kinds this equals the artifact.
    raw_logprobs: tuple[tuple[float, ...], ...]


def plan(total: int, kinds: Collection[str] = ()) -> dict[str, int]:
    """Checks per kind: at least one batch of each kind, whole batches only.

    `kinds` limits the plan to those kinds, their shares scaled to fill `total`.
    """
    chosen = {k: v for k, v in KINDS.items() if k in kinds} if kinds else MIX
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown honest kinds {sorted(unknown)}; known: {sorted(KINDS)}")
    scale = sum(share for share, _ in chosen.values())
    counts = {}
    for kind, (share, batch) in chosen.items():
        counts[kind] = max(batch, round(share / scale * total / batch) * batch)
    return counts


def _engine_run(
    h: Harness, request: Request, threads: int, engine: Engine | None = None
) -> tuple[Run, float]:
    s = request.sample
    spec = GenerationSpec(request.prompt_ids, s.temperature, s.top_p, s.max_tokens, s.seed)
    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        gen = (engine or h.engine).generate(spec)
    finally:
        elapsed = time.perf_counter() - started
        torch.set_num_threads(h.threads)
    table = gen.artifact
    return Run(gen.output_token_ids, list(table.token_ids), list(table.logprobs)), elapsed


def batch_runs(h: Harness, requests: list[Request]) -> tuple[list[Run], float]:
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
    h: Harness,
    total: int,
    max_tokens: int,
    first_index: int = 100_000,
    *,
    kinds: Collection[str] = (),
    vllm: Engine | None = None,
) -> Iterator[HonestCheck]:
    """Yields one checked honest inference at a time (so callers can show progress).

    The cross-engine kinds need `vllm`, an engine on vLLM at the model's dtype. A total of
    0 yields nothing (any other total is rounded up to whole batches of every kind).
    """
    if total <= 0:
        return
    index, repeat_of = first_index, first_index
    engines = {"reference": h.engine, "vllm": vllm}
    for kind, count in plan(total, kinds).items():
        batch = KINDS[kind][1]
        for _ in range(count // batch):
            # A repeated run re-sends the request of an earlier engine run (same id, seed).
            base = repeat_of if kind == "repeated-run" else index
            requests = [h.request(sample(base + i, max_tokens)) for i in range(batch)]
            index += batch
            validator = None
            if kind in CROSS:
                generator, validator = (engines[name] for name in CROSS[kind])
                if generator is None or validator is None:
                    raise ValueError(f"honest kind {kind} needs a vLLM engine")
                run, seconds = _engine_run(h, requests[0], h.threads, generator)
                runs = [run]
            elif kind.startswith("batch-"):
                runs, seconds = batch_runs(h, requests)
            else:
                run, seconds = _engine_run(h, requests[0], 1 if kind == "engine-1-thread" else 2)
                runs = [run]
            if kind == "repeated-run":
                repeat_of += 1
            for request, run in zip(requests, runs, strict=True):
                yield _checked(h, kind, request, run, seconds, validator)


def _checked(
    h: Harness,
    kind: str,
    request: Request,
    run: Run,
    seconds: float,
    validator: Engine | None = None,
) -> HonestCheck:
    record = h.finish(request, run)
    table = TopKArtifact.build(h.model.top_k, run.ids, run.logprobs)
    size = len(table.encode())
    verdict = h.check(record, validator)
    raw = tuple(tuple(row) for row in run.logprobs)
    return HonestCheck(kind, verdict, seconds, size, len(run.tokens), table, raw)
