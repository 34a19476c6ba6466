"""Part 1: what the network adds to a request when the engine takes no time at all."""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from attesta_engine.instant import InstantEngine
from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.port import GenerationSpec

from bench.overhead_cpu import cpu_seconds, profile_by_package, profile_top_functions
from bench.overhead_load import MAX_TOKENS, MESSAGES, percentile, saturate, sequential
from bench.overhead_stack import KEY, BenchNetwork


def engine_seconds(runs: int = 200) -> float:
    """The instant engine's own time for the bench's request, in this process."""
    engine = InstantEngine(ensure_reference_model(), model_name=REFERENCE_MODEL)
    prompt = engine.chat_prompt_ids(MESSAGES)
    times = []
    for seed in range(runs):
        started = time.perf_counter()
        engine.generate(GenerationSpec(prompt, 0.0, 1.0, MAX_TOKENS, seed))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def service_pids(network: BenchNetwork) -> dict[str, int]:
    pids = {s.name: s.process.pid for s in network.services if s.process is not None}
    nats = getattr(network, "_nats", None)
    if nats is not None and getattr(nats, "_process", None) is not None:
        pids["nats"] = nats._process.pid
    postgres = getattr(network, "_postgres", None)
    if postgres is not None and (postgres.data_dir / "postmaster.pid").exists():
        pids["postgres"] = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
    return pids


def _profile(network: BenchNetwork, folder: Path, clients: int, seconds: float) -> dict[str, Any]:
    """Saturate again with both services profiling; their own time by package."""
    (folder / "start").touch()
    saturate(network.gateway_url, KEY, clients, seconds)
    (folder / "stop").touch()
    found: dict[str, Any] = {}
    for name in ("gateway", "executor"):
        path = folder / f"{name}.prof"
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if path.exists():
            found[f"{name}_profile_by_package"] = [
                (package, round(share, 3)) for package, share in profile_by_package(path)
            ]
            found[f"{name}_profile_top"] = [
                (function, round(share, 3)) for function, share in profile_top_functions(path)
            ]
    return found


def _sweep(url: str, levels: list[int], seconds: float) -> dict[str, dict[str, Any]]:
    """Requests/s at more concurrent clients: at 32 the gateway's and the executor's loops
    take turns through bursts and the cores idle a third of the time (docs/overhead.md),
    so the most the network completes is found with more requests in flight."""
    found: dict[str, dict[str, Any]] = {}
    for clients in levels:
        load = saturate(url, KEY, clients, seconds)
        found[str(clients)] = {
            "rps": round(load.rps, 1),
            "failed": load.failed,
            "latency_ms_p50": round(load.latency_p50_s * 1000, 1),
        }
    return found


def measure_bus(
    requests: int,
    clients: int,
    duration_s: float,
    profile_s: float,
    sweep: list[int] | None = None,
    sweep_s: float = 10.0,
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="attesta-overhead-"))
    profile = data_dir / "profile" if profile_s > 0 else None
    if profile is not None:
        profile.mkdir()
    network = BenchNetwork(data_dir, profile=profile)
    print(f"starting gateway + instant executor in {data_dir} ...", file=sys.stderr)
    finished = False
    network.start(ready_timeout_s=120)
    try:
        engine_s = engine_seconds()
        health = sequential(network.gateway_url, KEY, min(requests, 300), "/health")
        latencies = sequential(network.gateway_url, KEY, requests)
        added_ms = [(t - engine_s) * 1000 for t in latencies]
        pids = service_pids(network)
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        bench_before = time.process_time()
        load = saturate(network.gateway_url, KEY, clients, duration_s)
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        cpu["bench clients"] = time.process_time() - bench_before
        result: dict[str, Any] = {
            "bus_added_ms_p50": round(percentile(added_ms, 50), 3),
            "bus_added_ms_p99": round(percentile(added_ms, 99), 3),
            "max_rps": round(load.rps, 1),
            "bus_requests": len(latencies),
            "instant_engine_ms": round(engine_s * 1000, 3),
            "http_health_ms_p50": round(percentile(health, 50) * 1000, 3),
            "rps_clients": clients,
            "rps_seconds": round(load.seconds, 1),
            "rps_failed": load.failed,
            "rps_latency_ms_p50": round(load.latency_p50_s * 1000, 2),
            # CPU per request while saturated: which process the cores are spent in.
            "cpu_ms_per_request": {
                name: round(seconds / max(load.completed, 1) * 1000, 3)
                for name, seconds in cpu.items()
            },
        }
        by_clients = {str(clients): {"rps": result["max_rps"], "failed": load.failed}}
        by_clients |= _sweep(network.gateway_url, sweep or [], sweep_s)
        # The most completed per second at any concurrency, counted only where none failed.
        clean = [(n, row["rps"]) for n, row in by_clients.items() if row["failed"] == 0]
        best = max(clean, key=lambda level: level[1], default=None)
        result |= {
            "rps_at_clients": result["max_rps"],
            # None: every level lost requests, so no rate counts.
            "max_rps": None if best is None else best[1],
            "max_rps_clients": None if best is None else int(best[0]),
            "rps_by_clients": by_clients,
        }
        if profile is not None:
            result |= _profile(network, profile, clients, profile_s)
        finished = True
        return result
    finally:
        network.stop()
        # Kept (with the services' logs) only when the run failed.
        if finished:
            shutil.rmtree(data_dir, ignore_errors=True)
