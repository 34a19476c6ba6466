"""`python -m bench.executor_work [REV]`: the executor's own CPU work per request, for
revision REV (default: the last commit, HEAD) and the working tree, alternately.

The bus bench (`bench.overhead_versions`) runs four processes on two shared cores, and a
change of a tenth of the executor's CPU drowns in what the host does from round to round.
This runs, in one process per side, what the executor does for a request between the
broker and its replies: check the signed request, tokenize the prompt with the chat
template, generate on the instant engine and sign the receipt and the finished record,
for `REQUESTS` (default 4,000) requests each with its own text and seed. It measures CPU
time (not wall time) per request in chunks of 500 and keeps the least chunk of each run
(what the code costs when nothing else takes the core), then the median over `ROUNDS`
(default 5) runs per side. One JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.overhead_stack import REPO
from bench.overhead_versions import checkout, revision_env

CHUNK = 500


def _work(requests: int) -> float:
    """Least CPU microseconds per request over chunks of CHUNK requests (this process)."""
    from attesta_common.envelope import read_record, sign_event
    from attesta_common.events import ChatMessage, InferenceRequested, SamplingParams
    from attesta_common.genesis import Genesis
    from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
    from attesta_engine.instant import InstantEngine
    from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
    from attesta_engine.port import GenerationSpec
    from attesta_executor.records import finished_record, prompt_token_ids

    keys = DevnetKeys.generate(executors=1, validators=1)
    genesis: Genesis = build_genesis(keys)
    gateway, executor = keys.gateway, keys.executors[0]
    engine = InstantEngine(ensure_reference_model(), model_name=REFERENCE_MODEL)
    now = int(time.time() * 1000)
    wires = []
    for i in range(requests):
        asked = InferenceRequested(
            inference_id=f"chatcmpl-{i:024d}",
            endpoint="chat",
            epoch=0,
            model=REFERENCE_MODEL,
            messages=[ChatMessage(role="user", content=f"Tell me about lighthouses. ({i})")],
            sampling=SamplingParams(seed=i, max_tokens=32, temperature=0.0),
            account="acct_bench",
            executor=executor.address,
            reserved=1000,
            requested_at_ms=now,
            deadline_ms=now + 600_000,
            stream_chunks=False,
            end_before_stored=True,
        )
        wires.append(sign_event(asked, gateway).to_bytes())
    # As the executor asks for a request nobody streams (revisions before
    # GenerationSpec.step_text decode at every token whatever they are asked).
    textless = {"step_text": False} if "step_text" in GenerationSpec.__dataclass_fields__ else {}
    chunks = []
    for start in range(0, requests, CHUNK):
        began = time.process_time()
        for wire in wires[start : start + CHUNK]:
            record, request = read_record(wire, genesis, InferenceRequested)
            prompt = prompt_token_ids(engine, request)
            spec = GenerationSpec(
                prompt, 0.0, 1.0, request.sampling.max_tokens, request.sampling.seed, **textless
            )
            finished_record(executor, record, request, engine.generate(spec))
        chunks.append((time.process_time() - began) / CHUNK * 1e6)
    # The first chunk warms caches and the allocator up.
    return min(chunks[1:] or chunks)


def _run(root: Path | None, requests: int) -> float:
    env = {**os.environ, **revision_env(root)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.executor_work", "--child", str(requests)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(_work(int(sys.argv[2])))
        return
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    rounds = int(os.environ.get("ROUNDS", "5"))
    requests = int(os.environ.get("REQUESTS", "4000"))
    seen: dict[str, list[float]] = {"baseline": [], "current": []}
    with checkout(rev) as worktree:
        for round_ in range(rounds):
            order: list[tuple[str, Path | None]] = [("baseline", worktree), ("current", None)]
            for name, root in order if round_ % 2 == 0 else reversed(order):
                seen[name].append(_run(root, requests))
                print(f"round {round_ + 1} {name}: {seen[name][-1]:.1f} us", file=sys.stderr)
    medians: dict[str, Any] = {name: round(statistics.median(v), 1) for name, v in seen.items()}
    print(
        json.dumps(
            {
                "baseline_rev": rev,
                "rounds": rounds,
                "requests": requests,
                "cpu_us_per_request": medians,
                "per_round": {n: [round(v, 1) for v in vs] for n, vs in seen.items()},
                "current_over_baseline": round(medians["current"] / medians["baseline"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
