"""Part 2: what checking an answer costs next to generating it, on the reference engine.

The records are built by the executor's and gateway's own code (signed request, receipt,
finished record), so `check_inference` runs every step a validator runs: structure,
prompt binding, the replay from the reported top-k, the teacher-forced pass and the replay
from its own numbers.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import torch
from attesta_common.envelope import sign_event
from attesta_common.events import ChatMessage, InferenceFinished, InferenceRequested, SamplingParams
from attesta_common.genesis import ModelSpec
from attesta_common.keys import SigningKey
from attesta_engine.loader import load_reference_engine
from attesta_engine.port import Generation, GenerationSpec
from attesta_executor.records import finished_record
from attesta_validator.check import check_inference, passed
from tqdm import tqdm

MODEL = ModelSpec(name="SmolLM2-135M-Instruct")
T = TypeVar("T")
# A prompt the model answers at length; greedy, so every run is the same answer.
PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm, in many chapters."


def _records(
    generation: Generation, max_tokens: int
) -> tuple[InferenceRequested, InferenceFinished, str]:
    gateway, executor = SigningKey.generate(), SigningKey.generate()
    now = int(time.time() * 1000)
    request = InferenceRequested(
        inference_id=f"bench-{max_tokens}",
        endpoint="chat",
        epoch=0,
        model=MODEL.name,
        messages=[ChatMessage(role="user", content=PROMPT)],
        sampling=SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=1),
        account="bench",
        executor=executor.address,
        reserved=10_000,
        requested_at_ms=now,
        deadline_ms=now + 600_000,
    )
    request_record = sign_event(request, gateway)
    finished = finished_record(executor, request_record, request, generation)
    return request, InferenceFinished.model_validate(finished.body), finished.public_key


def _timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def measure_validate(lengths: list[int], runs: int, threads: int | None) -> dict[str, Any]:
    """Per answer length: median generate and check time, alternated run by run so that
    the shared machine's noise falls on both alike."""
    engine = load_reference_engine(MODEL, threads=threads)
    prompt_ids = engine.chat_prompt_ids([{"role": "user", "content": PROMPT}])
    out: dict[str, Any] = {}
    for length in tqdm(lengths, desc="generate vs check", file=sys.stderr):
        spec = GenerationSpec(prompt_ids, 0.0, 1.0, length, seed=1)
        generate_times, check_times = [], []
        for _ in range(runs):
            elapsed, generation = _timed(partial(engine.generate, spec))
            generate_times.append(elapsed)
            request, finished, signer = _records(generation, length)
            elapsed, (checks, reasons) = _timed(
                partial(check_inference, engine, MODEL, request, finished, signer_public_key=signer)
            )
            check_times.append(elapsed)
            if not passed(checks):
                raise RuntimeError(f"the honest {length}-token answer failed its check: {reasons}")
        generate_s, check_s = statistics.median(generate_times), statistics.median(check_times)
        out[str(length)] = {
            # Greedy on the reference model: the answer may end (EOS) before `length`.
            "tokens": len(generation.output_token_ids),
            "generate_s": round(generate_s, 4),
            "check_s": round(check_s, 4),
            "validate_over_generate": round(check_s / generate_s, 4),
            "torch_threads": torch.get_num_threads(),
        }
    return out
