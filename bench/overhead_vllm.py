"""Part 3b: tokens/s through the network with a vLLM executor against vLLM's async engine
alone, at several numbers of concurrent requests, measured alternately.

The network side runs from this (main) environment with the executor from .venv-vllm;
the engine alone runs in a long-lived .venv-vllm worker (bench.overhead_vllm_direct).
Both use the same engine arguments, prompt, greedy sampling and answer length.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from tqdm import tqdm

from bench.http_client import Connection, encode_request
from bench.overhead_load import CHAT_PATH, MODEL
from bench.overhead_stack import KEY, BenchNetwork
from bench.overhead_vllm_shared import EXECUTOR_ENV, MESSAGES, VLLM_ENV

VLLM_BIN = Path(__file__).resolve().parent.parent / ".venv-vllm" / "bin"
# Pause before each timed burst (see measure_vllm).
SETTLE_S = 2.0


async def _network_burst(url: str, clients: int, tokens: int) -> tuple[int, float]:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": tokens, "temperature": 0.0}
    host = urlsplit(url).netloc
    requests = [
        encode_request(host, CHAT_PATH, KEY, body | {"seed": seed}) for seed in range(clients)
    ]
    # Connected before the clock starts: vLLM alone has no connections to open either.
    connections = [await Connection.open(url) for _ in range(clients)]
    try:
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(c.request(r) for c, r in zip(connections, requests, strict=True))
        )
        seconds = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    return sum(json.loads(reply)["usage"]["completion_tokens"] for reply in replies), seconds


class _DirectWorker:
    """The .venv-vllm worker; answers come on a pipe of their own, since vLLM logs to
    stdout (which goes to the log file with stderr)."""

    def __init__(self, log_path: Path) -> None:
        self._log = log_path.open("ab")
        read_fd, write_fd = os.pipe()
        self._process = subprocess.Popen(
            [str(VLLM_BIN / "python"), "-m", "bench.overhead_vllm_direct", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            env={**os.environ, **VLLM_ENV, "PYTHONPATH": str(Path.cwd())},
            text=True,
        )
        os.close(write_fd)
        self._answers: IO[str] = os.fdopen(read_fd)
        self._log_path = log_path
        if self._line() != "ready":
            raise RuntimeError(f"the vLLM worker did not start; see {log_path}")

    def _line(self) -> str:
        return self._answers.readline().strip()

    def burst(self, clients: int, tokens: int) -> tuple[int, float]:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(f"{clients} {tokens}\n")
        stdin.flush()
        line = self._line()
        if not line:
            raise RuntimeError(f"the vLLM worker died; see {self._log_path}")
        answer = json.loads(line)
        return int(answer["tokens"]), float(answer["seconds"])

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._answers.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def measure_vllm(levels: list[int], tokens: int, rounds: int) -> dict[str, Any]:
    if not (VLLM_BIN / "attesta-executor").exists():
        return {"open": f"no vLLM environment at {VLLM_BIN.parent}"}
    data_dir = Path(tempfile.mkdtemp(prefix="attesta-overhead-vllm-"))
    network = BenchNetwork(
        data_dir,
        executor=[str(VLLM_BIN / "attesta-executor")],
        executor_env={**EXECUTOR_ENV, **VLLM_ENV},
        # A saturated 2-core machine delays the executor's 1 s heartbeats past the 3 s
        # default; the gateway would then answer 503 (no live executor) mid-burst.
        gateway_env={"ATTESTA_HEARTBEAT_TTL_S": "30"},
        capacity=max(levels),
    )
    print(f"starting gateway + vLLM executor in {data_dir} ...", file=sys.stderr)
    finished = False
    network.start(ready_timeout_s=400)
    direct = None
    try:
        direct = _DirectWorker(data_dir / "logs" / "vllm-direct.log")
        asyncio.run(_network_burst(network.gateway_url, 1, 8))  # warm both paths
        direct.burst(1, 8)
        out: dict[str, Any] = {"tokens": tokens, "rounds": rounds}
        for clients in tqdm(levels, desc="network / vLLM alone", file=sys.stderr):
            net, alone, ratios = [], [], []
            for round_ in range(rounds):
                # Each round is a pair measured back to back, the order alternating, so
                # the host's slow drift and any order effect cancel in the pair's ratio.
                pair = {}
                for side in ("network", "alone") if round_ % 2 == 0 else ("alone", "network"):
                    # The other side's engine keeps its threads spinning for a while after
                    # its burst (0.5-0.7 CPU-s measured), taking the cores from this one.
                    time.sleep(SETTLE_S)
                    if side == "network":
                        generated, seconds = asyncio.run(
                            _network_burst(network.gateway_url, clients, tokens)
                        )
                    else:
                        generated, seconds = direct.burst(clients, tokens)
                    pair[side] = generated / seconds
                net.append(pair["network"])
                alone.append(pair["alone"])
                ratios.append(pair["network"] / pair["alone"])
            out[str(clients)] = {
                "network_tok_s": round(statistics.median(net), 1),
                "vllm_tok_s": round(statistics.median(alone), 1),
                "executor_vs_vllm": round(statistics.median(ratios), 3),
                "round_ratios": [round(r, 3) for r in ratios],
            }
        finished = True
        return out
    finally:
        if direct is not None:
            direct.close()
        network.stop()
        # Kept (with the services' logs) only when the run failed.
        if finished:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(measure_vllm([1, 4, 16], 64, 4)))
