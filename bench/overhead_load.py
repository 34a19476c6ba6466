"""Load for the overhead bench: sequential latencies and throughput under bounded
concurrency, over loopback HTTP with keep-alive connections (`bench.http_client`, a
client lean enough not to take the cores from the services it measures)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from attesta_common import event_loop
from tqdm import tqdm

from bench.http_client import BadResponse, Connection, check_completion, encode_request

MODEL = "SmolLM2-135M-Instruct"
MESSAGES = [{"role": "user", "content": "Tell me about lighthouses."}]
MAX_TOKENS = 32
BODY = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "temperature": 0.0}
CHAT_PATH = "/v1/chat/completions"


def body_for(seed: int) -> dict[str, object]:
    """The chat request with a new seed, and its own text: the executor keeps the ids of
    prompt pieces that recur (a chat template's, a fixed system prompt), and clients'
    own text does not recur."""
    text = f"{MESSAGES[0]['content']} (request {seed})"
    return BODY | {"seed": seed, "messages": [{"role": "user", "content": text}]}


WARM_UP = 10


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Requests:
    """Pre-encoded requests: a chat completion with a new seed each, or a health check."""

    def __init__(self, url: str, key: str, path: str = CHAT_PATH) -> None:
        self._host = urlsplit(url).netloc
        self._key = key
        self.path = path
        self._health = encode_request(self._host, path, key, None)

    def get(self, seed: int) -> bytes:
        if self.path != CHAT_PATH:
            return self._health
        return encode_request(self._host, self.path, self._key, body_for(seed))

    def check(self, body: bytes) -> None:
        if self.path == CHAT_PATH:
            check_completion(body)


async def _sequential(url: str, key: str, n: int, path: str) -> list[float]:
    requests = Requests(url, key, path)
    batch = [requests.get(seed) for seed in range(n + WARM_UP)]
    connection = await Connection.open(url)
    times: list[float] = []
    try:
        for i in tqdm(range(n + WARM_UP), desc=f"sequential {path}", file=sys.stderr, leave=False):
            started = time.perf_counter()
            body = await connection.request(batch[i])
            elapsed = time.perf_counter() - started
            requests.check(body)
            if i >= WARM_UP:
                times.append(elapsed)
    finally:
        await connection.close()
    return times


def sequential(url: str, key: str, n: int, path: str = CHAT_PATH) -> list[float]:
    """Seconds per request, one at a time; the first few warm connections and caches."""
    return event_loop.run(_sequential(url, key, n, path))


@dataclass(frozen=True)
class Throughput:
    completed: int
    failed: int
    seconds: float
    latency_p50_s: float

    @property
    def rps(self) -> float:
        return self.completed / self.seconds


async def saturate_async(
    url: str,
    key: str,
    clients: int,
    duration_s: float,
    *,
    barrier: asyncio.Barrier | None = None,
) -> Throughput:
    """`barrier`: passed once the connections are open, so that loads on several networks
    start (and end) together."""
    requests = Requests(url, key)
    latencies: list[float] = []
    failed = 0
    connections = [await Connection.open(url) for _ in range(clients)]
    if barrier is not None:
        await barrier.wait()
    started = time.perf_counter()
    deadline = started + duration_s

    async def worker(index: int) -> None:
        nonlocal failed
        connection = connections[index]
        seed = index * 1_000_000
        # Bounded by the deadline: each worker keeps one request in flight until then.
        while (now := time.perf_counter()) < deadline:
            seed += 1
            try:
                # A timeout scope, not wait_for: no task of its own per request (the load
                # generator's CPU comes out of the services' share of the cores).
                async with asyncio.timeout(30):
                    body = await connection.request(requests.get(seed))
                requests.check(body)
                latencies.append(time.perf_counter() - now)
            except (BadResponse, OSError, asyncio.IncompleteReadError, TimeoutError):
                failed += 1
                # The connection's state is unknown after a failure: start a new one.
                await connection.close()
                connection = await Connection.open(url)

    try:
        await asyncio.gather(*(worker(i) for i in range(clients)))
    finally:
        for connection in connections:
            await connection.close()
    seconds = time.perf_counter() - started
    median = statistics.median(latencies) if latencies else float("nan")
    return Throughput(len(latencies), failed, seconds, median)


def saturate(url: str, key: str, clients: int, duration_s: float) -> Throughput:
    print(f"{clients} concurrent clients for {duration_s:.0f} s ...", file=sys.stderr)
    return event_loop.run(saturate_async(url, key, clients, duration_s))
