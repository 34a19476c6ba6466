"""`python -m bench.overhead_interleaved [REV [CURRENT]]`: the sequential latency of two
revisions, both networks up at once and their requests interleaved.

`bench.overhead_versions` runs one network after the other, a minute or more apart; on
this shared host the sequential p50 of one code moved by 60% between such rounds, which
buries a change of a few tenths of a millisecond. Here both networks (gateway and
instant-engine executor, each with its NATS and Postgres, as in `bench.overhead_bus`)
run side by side and one client sends them `BLOCK` requests in turn (default 20, the
order flipped every block), `REQUESTS` per side (default 3000): both see the same minutes
of the host. Prints the p50 and p99 of each side, their ratio current/baseline, and in
how many block pairs the current side's median was lower; one JSON line at the end.
Idle, the other network costs nearly nothing: its services wait on their sockets.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

from attesta_common import event_loop
from tqdm import tqdm

from bench.http_client import Connection
from bench.overhead_load import WARM_UP, Requests, percentile
from bench.overhead_stack import KEY
from bench.overhead_versions import BASELINE_REV, networks_side_by_side


async def _one(connection: Connection, requests: Requests, seed: int) -> float:
    started = time.perf_counter()
    body = await connection.request(requests.get(seed))
    elapsed = time.perf_counter() - started
    requests.check(body)
    return elapsed


async def _interleave(urls: dict[str, str], total: int, block: int) -> dict[str, list[float]]:
    sides = list(urls)
    requests = {name: Requests(url, KEY) for name, url in urls.items()}
    connections = {name: await Connection.open(url) for name, url in urls.items()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for name in sides:
            for seed in range(WARM_UP):
                await _one(connections[name], requests[name], seed)
        blocks = total // block
        for index in tqdm(range(blocks), desc="interleaved blocks", file=sys.stderr):
            order = sides if index % 2 == 0 else sides[::-1]
            for name in order:
                for n in range(block):
                    # The same requests on both sides, in the same order.
                    seed = WARM_UP + index * block + n
                    times[name].append(await _one(connections[name], requests[name], seed))
    finally:
        for connection in connections.values():
            await connection.close()
    return times


def _block_wins(current: list[float], baseline: list[float], block: int) -> tuple[int, int]:
    """Block pairs where the current side's median was lower, and all block pairs."""
    pairs = len(current) // block
    wins = sum(
        statistics.median(current[i * block : (i + 1) * block])
        < statistics.median(baseline[i * block : (i + 1) * block])
        for i in range(pairs)
    )
    return wins, pairs


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else BASELINE_REV
    current = sys.argv[2] if len(sys.argv) > 2 else None
    total = int(os.environ.get("REQUESTS", "3000"))
    block = int(os.environ.get("BLOCK", "20"))
    with networks_side_by_side(rev, current, "interleaved") as networks:
        urls = {name: network.gateway_url for name, network in networks.items()}
        times = event_loop.run(_interleave(urls, total, block))
    ms = {name: [t * 1000 for t in values] for name, values in times.items()}
    found: dict[str, Any] = {
        name: {
            "p50_ms": round(percentile(values, 50), 3),
            "p99_ms": round(percentile(values, 99), 3),
            "requests": len(values),
        }
        for name, values in ms.items()
    }
    wins, pairs = _block_wins(ms["current"], ms["baseline"], block)
    result = {
        "baseline_rev": rev,
        "current_rev": current,
        "block": block,
        **found,
        "current_over_baseline": {
            key: round(found["current"][key] / found["baseline"][key], 3)
            for key in ("p50_ms", "p99_ms")
        },
        "blocks_current_lower": f"{wins}/{pairs}",
    }
    print(
        f"p50 {found['current']['p50_ms']:.2f} against {found['baseline']['p50_ms']:.2f} ms,"
        f" lower in {wins} of {pairs} block pairs",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
