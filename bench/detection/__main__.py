"""`python -m bench.detection`: the cheat suite, the honest controls, one JSON line.

Environment: QUICK=1 (every scenario a few times, a small honest batch), SAMPLES (cheats
per scenario), HONEST (honest checks), TOKENS (max_tokens, 64), ONLY (comma-separated
scenario names), OUT (also write the table there), FIRST_INDEX (the first honest request's
workload index, 100000: another value gives other prompts and seeds), KINDS (comma-separated
honest kinds; the cross-engine kinds `vllm->reference` and `reference->vllm` need vLLM, so
`make bench-detection-vllm`), TOP_K (ranks in the artifact, default genesis' 3),
FIRST_SAMPLE (the first cheat sample's index, 0: runs over disjoint samples merge with
`python -m bench.detection.merge`). Progress and
the table go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from tqdm import tqdm

from bench.detection.evidence import gather
from bench.detection.harness import Harness
from bench.detection.honest import CROSS, VLLM_INSTALLED, honest_checks
from bench.detection.report import Tally, codec_numbers, detection, honest_numbers, table
from bench.detection.scenarios import all_scenarios


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def main() -> None:
    quick = os.environ.get("QUICK") == "1"
    samples = _int("SAMPLES", 3 if quick else 100)
    honest_total = _int("HONEST", 96 if quick else 3000)
    tokens = _int("TOKENS", 64)
    first_sample = _int("FIRST_SAMPLE", 0)
    only = {s for s in os.environ.get("ONLY", "").split(",") if s}
    kinds = [k for k in os.environ.get("KINDS", "").split(",") if k]
    started = time.perf_counter()
    top_k = os.environ.get("TOP_K")
    h = Harness(top_k=int(top_k) if top_k else None)
    scenarios = [s for s in all_scenarios() if not only or s.name in only]
    tallies: dict[str, Tally] = {}
    with tqdm(total=samples * len(scenarios), desc="cheats", file=sys.stderr) as bar:
        for scenario in scenarios:
            tally = tallies.setdefault(scenario.name, Tally(scenario.group))
            for i in range(first_sample, first_sample + samples):
                record = scenario.build(h, i, tokens)
                if record is None:
                    tally.skipped += 1
                else:
                    verdict = h.check(record)
                    tally.verdicts.append(verdict)
                    tally.evidence.append(gather(h, verdict, record.to_bytes()))
                bar.update()
            bar.set_postfix_str(f"{scenario.name} {tally.caught}/{tally.total}")
    cheat_seconds = time.perf_counter() - started
    checks = []
    failures = 0
    vllm = _vllm_engine(h) if set(kinds) & set(CROSS) else None
    try:
        with tqdm(total=honest_total, desc="honest", file=sys.stderr) as bar:
            for check in honest_checks(
                h, honest_total, tokens, _int("FIRST_INDEX", 100_000), kinds=kinds, vllm=vllm
            ):
                checks.append(check)
                failures += not check.verdict.passed
                # A long run shows its running tally, not only the final line.
                bar.set_postfix_str(f"failures {failures}", refresh=False)
                bar.update()
    finally:
        if vllm is not None:
            vllm.close()
    rows = detection(tallies)
    honest = honest_numbers(checks, h.model.distance_threshold)
    codec = codec_numbers(checks, h.model.distance_threshold)
    text = table(rows, honest)
    print(text, file=sys.stderr)
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    summary = {
        "mode": "quick" if quick else "full",
        "max_tokens": tokens,
        "top_k": h.model.top_k,
        "samples_per_scenario": samples,
        "first_sample": first_sample,
        "detection": {name: r["rate"] for name, r in rows.items()},
        "detection_miss_estimate": {name: r["miss_estimate"] for name, r in rows.items()},
        **honest,
        **codec,
        "detection_detail": rows,
        "vllm": "compared" if vllm else ("installed" if VLLM_INSTALLED else "not installed"),
        "cheat_seconds": round(cheat_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary, sort_keys=True))


def _vllm_engine(h: Harness) -> Any:
    """vLLM on the same weights and dtype as the reference engine (needs `.venv-vllm`)."""
    from attesta_engine.model_store import ensure_reference_model
    from attesta_engine.vllm_async import AsyncVllmEngine

    return AsyncVllmEngine(
        ensure_reference_model(),
        model_name=h.model.name,
        top_k=h.model.top_k,
        dtype=h.model.dtype,
        max_model_len=512,
        enforce_eager=True,
    )


if __name__ == "__main__":
    main()
