"""`python -m bench.overhead_runtime`: what the services' runtime choices buy on the bus.

The network of `bench.overhead_bus` (gateway and instant-engine executor, NATS, Postgres)
started alternately in two configurations, `ROUNDS` times each (default 2):

- `plain`: asyncio's event loop, uvicorn's pure-Python h11 parser, no API-key cache, and
  every span recorded although there is no exporter (the settings before 2026-11-25);
- `tuned`: the defaults: uvloop, httptools, a 5 s key cache, no span recording without an
  exporter.

For each: bus-added latency p50/p99 over `REQUESTS` sequential requests (default 300) and
completed requests per second with 32 clients for `SECONDS` (default 10). Medians over the
rounds, the ratios tuned/plain, one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.overhead_bus import engine_seconds
from bench.overhead_load import percentile, saturate, sequential
from bench.overhead_stack import KEY, BenchNetwork

PLAIN_SERVICE = {"ATTESTA_EVENT_LOOP": "asyncio", "OTEL_TRACES_SAMPLER": "parentbased_always_on"}
VARIANTS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # (gateway environment, executor environment)
    "plain": (
        {**PLAIN_SERVICE, "BENCH_UVICORN_HTTP": "h11", "ATTESTA_KEY_CACHE_TTL_S": "0"},
        PLAIN_SERVICE,
    ),
    "tuned": ({}, {}),
}


def _measure(name: str, requests: int, seconds: float, engine_s: float) -> dict[str, float]:
    gateway_env, executor_env = VARIANTS[name]
    data_dir = Path(tempfile.mkdtemp(prefix=f"attesta-runtime-{name}-"))
    network = BenchNetwork(data_dir, gateway_env=gateway_env, executor_env=executor_env)
    network.start(ready_timeout_s=120)
    try:
        added = [(t - engine_s) * 1000 for t in sequential(network.gateway_url, KEY, requests)]
        load = saturate(network.gateway_url, KEY, 32, seconds)
        return {"p50": percentile(added, 50), "p99": percentile(added, 99), "rps": load.rps}
    finally:
        network.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", "2"))
    requests = int(os.environ.get("REQUESTS", "300"))
    seconds = float(os.environ.get("SECONDS", "10"))
    engine_s = engine_seconds()
    seen: dict[str, dict[str, list[float]]] = {
        n: {"p50": [], "p99": [], "rps": []} for n in VARIANTS
    }
    for round_ in range(rounds):
        for name in VARIANTS:
            row = _measure(name, requests, seconds, engine_s)
            for figure, value in row.items():
                seen[name][figure].append(value)
            print(
                f"round {round_ + 1} {name}: p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, "
                f"{row['rps']:.0f} rps",
                file=sys.stderr,
            )
    medians = {
        n: {f: round(statistics.median(v), 2) for f, v in d.items()} for n, d in seen.items()
    }
    ratios = {f: round(medians["tuned"][f] / medians["plain"][f], 3) for f in ("p50", "p99", "rps")}
    print(
        json.dumps({"rounds": rounds, "requests": requests, **medians, "tuned_over_plain": ratios})
    )


if __name__ == "__main__":
    main()
