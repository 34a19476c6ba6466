"""Load for the overhead bench: sequential latencies and throughput under bounded
concurrency, over loopback HTTP with keep-alive connections."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
from tqdm import tqdm

MODEL = "SmolLM2-135M-Instruct"
MESSAGES = [{"role": "user", "content": "Tell me about lighthouses."}]
MAX_TOKENS = 32
BODY = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "temperature": 0.0}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def sequential(url: str, key: str, n: int, path: str = "/v1/chat/completions") -> list[float]:
    """Seconds per request, one at a time; the first few warm connections and caches."""
    headers = {"Authorization": f"Bearer {key}"}
    times: list[float] = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for i in tqdm(range(n + 10), desc=f"sequential {path}", file=sys.stderr, leave=False):
            started = time.perf_counter()
            if path == "/health":
                reply = client.get(path)
            else:
                reply = client.post(path, json=BODY | {"seed": i})
            elapsed = time.perf_counter() - started
            reply.raise_for_status()
            if i >= 10:
                times.append(elapsed)
    return times


@dataclass(frozen=True)
class Throughput:
    completed: int
    failed: int
    seconds: float
    latency_p50_s: float

    @property
    def rps(self) -> float:
        return self.completed / self.seconds


async def _saturate(url: str, key: str, clients: int, duration_s: float) -> Throughput:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    failed = 0
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=30, limits=limits
    ) as client:
        started = time.perf_counter()
        deadline = started + duration_s

        async def worker(index: int) -> None:
            nonlocal failed
            seed = index * 1_000_000
            # Bounded by the deadline: each worker keeps one request in flight until then.
            while (now := time.perf_counter()) < deadline:
                seed += 1
                try:
                    reply = await client.post("/v1/chat/completions", json=BODY | {"seed": seed})
                    reply.raise_for_status()
                    latencies.append(time.perf_counter() - now)
                except httpx.HTTPError:
                    failed += 1

        await asyncio.gather(*(worker(i) for i in range(clients)))
        seconds = time.perf_counter() - started
    median = statistics.median(latencies) if latencies else float("nan")
    return Throughput(len(latencies), failed, seconds, median)


def saturate(url: str, key: str, clients: int, duration_s: float) -> Throughput:
    print(f"{clients} concurrent clients for {duration_s:.0f} s ...", file=sys.stderr)
    return asyncio.run(_saturate(url, key, clients, duration_s))
