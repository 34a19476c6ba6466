"""`python -m bench.overhead_concurrent [REV [CURRENT]]`: the throughput and CPU per
request of two revisions, both networks saturated at the same time.

`bench.overhead_versions` saturates one network after the other; on this shared host
one code's requests/s moved by a third between such rounds, which buries a change of a
few percent. Here both networks (as in `bench.overhead_interleaved`: gateway and
instant-engine executor, each with its NATS and Postgres) are saturated at once,
`CLIENTS` each (default 128), for `SECONDS` (default 10), `ROUNDS` times (default 4):
they share the same cores in the same seconds, and the scheduler gives each process its
share, so the code that spends less CPU per request completes more. Per side and round:
requests completed per second and CPU ms per request of its four processes (from
/proc); medians, the ratios current/baseline, and in how many rounds the current side
completed more. One JSON line at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from typing import Any

from attesta_common import event_loop

from bench.overhead_bus import service_pids
from bench.overhead_cpu import cpu_seconds
from bench.overhead_load import Throughput, saturate_async
from bench.overhead_stack import KEY, BenchNetwork
from bench.overhead_versions import BASELINE_REV, networks_side_by_side


async def _both(urls: dict[str, str], clients: int, seconds: float) -> dict[str, Throughput]:
    # Both start once both have their connections open, and so end together: a side that
    # ran on alone for a moment would have the host to itself (an A/A run of one revision
    # against itself favoured the side that started second by 4%).
    barrier = asyncio.Barrier(len(urls))
    loads = await asyncio.gather(
        *(saturate_async(url, KEY, clients, seconds, barrier=barrier) for url in urls.values())
    )
    return dict(zip(urls, loads, strict=True))


def _round(
    networks: dict[str, BenchNetwork], clients: int, seconds: float, *, flip: bool = False
) -> dict[str, dict[str, float]]:
    """One saturation of both; `flip` swaps which side's clients are set up first."""
    pids = {name: service_pids(network) for name, network in networks.items()}
    before = {name: {p: cpu_seconds(pid) for p, pid in ps.items()} for name, ps in pids.items()}
    names = list(networks)
    if flip:
        names.reverse()
    urls = {name: networks[name].gateway_url for name in names}
    loads = event_loop.run(_both(urls, clients, seconds))
    found = {}
    for name, load in loads.items():
        spent = sum(cpu_seconds(pid) - before[name][p] for p, pid in pids[name].items())
        found[name] = {
            "rps": load.rps,
            "failed": load.failed,
            "cpu_ms": spent / max(load.completed, 1) * 1000,
        }
    return found


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else BASELINE_REV
    current = sys.argv[2] if len(sys.argv) > 2 else None
    rounds = int(os.environ.get("ROUNDS", "4"))
    clients = int(os.environ.get("CLIENTS", "128"))
    seconds = float(os.environ.get("SECONDS", "10"))
    seen: list[dict[str, dict[str, float]]] = []
    with networks_side_by_side(rev, current, "concurrent") as networks:
        # Warm both (first requests load code paths and fill caches).
        _round(networks, clients, 3)
        for index in range(rounds):
            print(f"round {index + 1}: both at {clients} clients", file=sys.stderr)
            seen.append(_round(networks, clients, seconds, flip=index % 2 == 1))
            row = seen[-1]
            print(
                "  ".join(
                    f"{name} {row[name]['rps']:.0f} rps {row[name]['cpu_ms']:.3f} CPU ms"
                    for name in ("baseline", "current")
                ),
                file=sys.stderr,
            )
    medians: dict[str, dict[str, float]] = {
        name: {
            key: round(statistics.median(row[name][key] for row in seen), 3)
            for key in ("rps", "cpu_ms")
        }
        for name in ("baseline", "current")
    }
    wins = sum(row["current"]["rps"] > row["baseline"]["rps"] for row in seen)
    ratios = [row["current"]["rps"] / row["baseline"]["rps"] for row in seen]
    cpu_ratios = [row["current"]["cpu_ms"] / row["baseline"]["cpu_ms"] for row in seen]
    result: dict[str, Any] = {
        "baseline_rev": rev,
        "current_rev": current,
        "rounds": rounds,
        "clients_each": clients,
        "seconds": seconds,
        **medians,
        "failed": sum(row[name]["failed"] for row in seen for name in row),
        "current_over_baseline": {
            "rps": round(statistics.median(ratios), 3),
            "cpu_ms": round(statistics.median(cpu_ratios), 3),
        },
        "per_round_rps_ratio": [round(r, 3) for r in ratios],
        "rounds_current_faster": f"{wins}/{rounds}",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
