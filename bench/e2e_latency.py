"""Latency of a 32-token answer through the network against the same generation called
directly on the engine, measured alternately in one run (the machine is shared and noisy,
so only the ratio is meaningful), plus the resident memory of the whole running stack.

    make bench-e2e          # RUNS=7 by default
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from attesta_devnet.network import Network, NetworkConfig
from attesta_devnet.ports import free_port
from attesta_engine.loader import load_reference_engine
from attesta_engine.port import GenerationSpec
from openai import OpenAI
from tqdm import tqdm

from bench.stack_memory import tree_rss_mib

MODEL = "SmolLM2-135M-Instruct"
TOKENS = 32
PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
KEY = "sk-attesta-bench"


def _wait_checked(network: Network, inference_id: str, validators: int) -> None:
    """Let validators finish their check, so it does not overlap the next measurement.

    Once an epoch has settled, reputation lowers the sampling rate and fewer validators
    check, hence the short cap.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        view = httpx.get(
            f"{network.gateway_url}/v1/inferences/{inference_id}",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=5,
        )
        if view.status_code == 200 and len(view.json().get("verdicts") or []) >= validators:
            return
        time.sleep(0.2)


def main() -> None:
    runs = int(os.environ.get("RUNS", "7"))
    threads = int(os.environ.get("ATTESTA_TORCH_THREADS", "1"))
    data_dir = Path(tempfile.mkdtemp(prefix="attesta-bench-"))
    network = Network(
        NetworkConfig(
            data_dir=data_dir,
            gateway_port=free_port(),
            dev_api_key=KEY,
            nats_url=os.environ.get("NATS_URL"),
            database_url=os.environ.get("DATABASE_URL"),
            extra_env={"ATTESTA_TORCH_THREADS": str(threads)},
        )
    )
    print(f"starting the network in {data_dir} ...", file=sys.stderr)
    network.start(ready_timeout_s=240)
    try:
        assert network.genesis is not None
        spec = network.genesis.model(MODEL)
        assert spec is not None
        engine = load_reference_engine(spec, threads=threads)
        prompt_ids = engine.chat_prompt_ids(PROMPT)
        client = OpenAI(base_url=f"{network.gateway_url}/v1", api_key=KEY, max_retries=0)

        def through_network(seed: int) -> tuple[float, int]:
            started = time.perf_counter()
            reply = client.chat.completions.create(
                model=MODEL, messages=PROMPT, max_tokens=TOKENS, temperature=0.0, seed=seed
            )
            elapsed = time.perf_counter() - started
            _wait_checked(network, reply.id, len(network.genesis.holders("validator")))  # type: ignore[union-attr]
            assert reply.usage is not None
            return elapsed, reply.usage.completion_tokens

        def direct(seed: int) -> tuple[float, int]:
            started = time.perf_counter()
            generation = engine.generate(GenerationSpec(prompt_ids, 0.0, 1.0, TOKENS, seed))
            return time.perf_counter() - started, len(generation.output_token_ids)

        through_network(0)
        direct(0)  # warm both paths
        net_times, eng_times = [], []
        for run in tqdm(range(runs), desc="alternating network / engine", file=sys.stderr):
            elapsed, tokens = through_network(run + 1)
            assert tokens == TOKENS, f"network answer had {tokens} tokens"
            net_times.append(elapsed)
            elapsed, tokens = direct(run + 1)
            assert tokens == TOKENS
            eng_times.append(elapsed)
        pids = [s.process.pid for s in network.services if s.process is not None]
        memory = tree_rss_mib(pids)
        infra = tree_rss_mib([p for p in _infra_pids(network) if p])
        result = {
            "runs": runs,
            "tokens": TOKENS,
            "network_s_median": round(statistics.median(net_times), 4),
            "engine_s_median": round(statistics.median(eng_times), 4),
            "e2e_vs_engine": round(statistics.median(net_times) / statistics.median(eng_times), 4),
            "services_rss_mib": round(memory, 1),
            "nats_postgres_rss_mib": round(infra, 1),
            "torch_threads": threads,
        }
        print(
            f"\n| path | median s ({runs} runs) |\n|---|---|\n"
            f"| gateway -> NATS -> executor -> client | {result['network_s_median']} |\n"
            f"| engine called directly | {result['engine_s_median']} |\n"
            f"ratio {result['e2e_vs_engine']}; services RSS {memory:.0f} MiB, "
            f"NATS + Postgres RSS {infra:.0f} MiB",
            file=sys.stderr,
        )
        print(json.dumps(result))
    finally:
        network.stop()


def _infra_pids(network: Network) -> list[int]:
    pids = []
    nats = getattr(network, "_nats", None)
    if nats is not None and getattr(nats, "_process", None) is not None:
        pids.append(nats._process.pid)
    postgres = getattr(network, "_postgres", None)
    if postgres is not None:
        pid_file = postgres.data_dir / "postmaster.pid"
        if pid_file.exists():
            pids.append(int(pid_file.read_text().split()[0]))
    return pids


if __name__ == "__main__":
    main()
