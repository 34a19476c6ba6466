"""`python -m bench.overhead_versions [REV [CURRENT]]`: the bus of another revision beside
this one (or beside revision CURRENT, so that the working tree may change meanwhile).

Absolute times on this shared host drift by tens of percent between runs, so a change to
the services is measured against its baseline side by side: the network of
`bench.overhead_bus` (gateway and instant-engine executor, NATS, Postgres) started
alternately with the services' code of `REV` (default: the commit this session's work
started from, `BASELINE_REV`; checked out in a temporary git worktree) and with the
working tree (or `CURRENT`, in a worktree of its own), `ROUNDS` times each (default 3),
in alternating order.

Only the services' packages differ: both use this checkout's load generator
(`bench.overhead_load`), stack and instant engine. Per round: latency p50/p99 over
`REQUESTS` sequential requests (default 300, wall time, the engine's own ~0.3 ms
included), completed requests per second with `CLIENTS` concurrent clients (default 32;
256 finds the most the network completes, docs/overhead.md) for `SECONDS` (default 10),
and CPU ms per request of each process while saturated. Medians over the rounds, the
ratios current/baseline, one JSON line.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.overhead_bus import service_pids
from bench.overhead_cpu import cpu_seconds
from bench.overhead_load import percentile, saturate, sequential
from bench.overhead_stack import KEY, REPO, BenchNetwork

# The first commit of the bus work of 2026-12-07 (issue 4): what its figures compare with.
BASELINE_REV = "6824cec"
PACKAGES = [
    "libs/common",
    "libs/engine",
    "libs/devnet",
    *(f"services/{name}" for name in ("api-gateway", "executor", "validator")),
    *(f"services/{name}" for name in ("chain-writer", "epoch-settler")),
]


def revision_env(root: Path | None) -> dict[str, str]:
    """Service environment putting `root`'s packages ahead of the installed ones."""
    if root is None:
        return {}
    paths = [str(REPO), *(str(root / package) for package in PACKAGES)]
    return {"PYTHONPATH": os.pathsep.join(paths)}


def measure_round(root: Path | None, requests: int, seconds: float, clients: int) -> dict[str, Any]:
    env = revision_env(root)
    data_dir = Path(tempfile.mkdtemp(prefix="attesta-versions-"))
    network = BenchNetwork(data_dir, gateway_env=env, executor_env=env)
    network.start(ready_timeout_s=120)
    try:
        wall = [t * 1000 for t in sequential(network.gateway_url, KEY, requests)]
        pids = service_pids(network)
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        load = saturate(network.gateway_url, KEY, clients, seconds)
        done = max(load.completed, 1)
        cpu = {n: (cpu_seconds(p) - before[n]) / done * 1000 for n, p in pids.items()}
        return {
            "p50_ms": percentile(wall, 50),
            "p99_ms": percentile(wall, 99),
            "rps": load.rps,
            "failed": load.failed,
            "cpu_ms": sum(cpu.values()),
            **{f"cpu_ms_{name}": value for name, value in cpu.items()},
        }
    finally:
        network.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """`rev` in a temporary git worktree, removed on the way out."""
    worktree = Path(tempfile.mkdtemp(prefix="attesta-rev-"))
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), rev],
        check=True,
        capture_output=True,
    )
    try:
        yield worktree
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)],
            check=False,
            capture_output=True,
        )


@contextlib.contextmanager
def revisions(rev: str, current: str | None) -> Iterator[dict[str, Path | None]]:
    """The baseline's and the current side's package roots: `rev`, and `current` or the
    working tree (None)."""
    with contextlib.ExitStack() as stack:
        baseline = stack.enter_context(checkout(rev))
        other = stack.enter_context(checkout(current)) if current else None
        yield {"baseline": baseline, "current": other}


@contextlib.contextmanager
def networks_side_by_side(
    rev: str, current: str | None, label: str
) -> Iterator[dict[str, BenchNetwork]]:
    """Both sides' networks (`revisions`) up at the same time, stopped and removed after."""
    networks: dict[str, BenchNetwork] = {}
    folders: list[Path] = []
    with revisions(rev, current) as roots:
        try:
            for name, root in roots.items():
                env = revision_env(root)
                folder = Path(tempfile.mkdtemp(prefix=f"attesta-{label}-{name}-"))
                folders.append(folder)
                networks[name] = BenchNetwork(folder, gateway_env=env, executor_env=env)
                print(f"starting the {name} network in {folder} ...", file=sys.stderr)
                networks[name].start(ready_timeout_s=120)
            yield networks
        finally:
            for network in networks.values():
                network.stop()
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)


def alternate(
    sides: Mapping[str, Callable[[], dict[str, Any]]], rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """Each side's measurement once per round, the order flipped every round, so the
    host's drift and any order effect cancel within a pair."""
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for round_ in range(rounds):
        for name in list(sides) if round_ % 2 == 0 else list(reversed(list(sides))):
            row = sides[name]()
            seen[name].append(row)
            print(
                f"round {round_ + 1} {name}: p50 {row['p50_ms']:.2f} ms, "
                f"p99 {row['p99_ms']:.2f} ms, {row['rps']:.0f} rps, "
                f"{row['cpu_ms']:.2f} CPU ms/request (NATS {row.get('cpu_ms_nats', 0):.3f})",
                file=sys.stderr,
            )
    return seen


def median_rows(seen: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    return {
        name: {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}
        for name, rows in seen.items()
    }


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else BASELINE_REV
    rounds = int(os.environ.get("ROUNDS", "3"))
    requests = int(os.environ.get("REQUESTS", "300"))
    seconds = float(os.environ.get("SECONDS", "10"))
    clients = int(os.environ.get("CLIENTS", "32"))
    current = sys.argv[2] if len(sys.argv) > 2 else None
    with revisions(rev, current) as variants:
        seen = alternate(
            {
                name: functools.partial(measure_round, root, requests, seconds, clients)
                for name, root in variants.items()
            },
            rounds,
        )
    medians = median_rows(seen)
    ratios = {
        key: round(medians["current"][key] / medians["baseline"][key], 3)
        for key in ("p50_ms", "p99_ms", "rps", "cpu_ms")
    }
    print(
        json.dumps(
            {
                "baseline_rev": rev,
                "current_rev": current,
                "rounds": rounds,
                "clients": clients,
                **medians,
                "current_over_baseline": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
