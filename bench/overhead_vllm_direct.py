"""`.venv-vllm/bin/python -m bench.overhead_vllm_direct FD`: vLLM's async engine alone,
with the executor's own engine arguments, driven by bench.overhead_vllm: requests on
stdin, answers on file descriptor FD (vLLM logs to stdout).

Kept alive between bursts so the network and the engine alone can be measured
alternately: each stdin line "CLIENTS TOKENS" runs that many concurrent generations and
answers one JSON line there with the tokens generated and the wall time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.port import GenerationSpec
from attesta_engine.vllm_async import AsyncVllmEngine

from bench.overhead_vllm_shared import ENGINE_ARGS, MESSAGES


async def _burst(engine: AsyncVllmEngine, prompt: list[int], clients: int, tokens: int) -> str:
    started = time.perf_counter()
    generations = await asyncio.gather(
        *(
            engine.generate_async(GenerationSpec(prompt, 0.0, 1.0, tokens, seed))
            for seed in range(clients)
        )
    )
    seconds = time.perf_counter() - started
    generated = sum(len(g.output_token_ids) for g in generations)
    return json.dumps({"tokens": generated, "seconds": seconds})


def main() -> None:
    answers = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    engine = AsyncVllmEngine(
        ensure_reference_model(), model_name=REFERENCE_MODEL, top_k=3, **ENGINE_ARGS
    )
    prompt = engine.chat_prompt_ids(MESSAGES)
    print("ready", file=answers)
    try:
        for line in sys.stdin:
            clients, tokens = (int(n) for n in line.split())
            print(asyncio.run(_burst(engine, prompt, clients, tokens)), file=answers)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
