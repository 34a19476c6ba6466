"""What Attesta adds on top of the engine, measured side by side in one run.

1. The bus: gateway -> NATS JetStream -> executor -> back, with an engine that answers at
   once (attesta_engine.instant): latency added per request (p50/p99 over sequential
   requests) and the requests per second a bounded set of concurrent clients gets, with
   the CPU each process spends per request and a short profile of gateway and executor;
   then the same with more clients (`--sweep`): `max_rps` is the best of these (none
   failed), `rps_at_clients` the figure at `--clients`.
2. Checking: `check_inference` on the reference engine over generating the same answer,
   for 32, 128 and 512-token answers.
3. The whole network against the engine alone (bench.e2e_latency, fewer runs), and
   tokens/s through a vLLM executor against vLLM's async engine alone at 1, 4 and 16
   concurrent requests (needs .venv-vllm: scripts/install_vllm.sh; skipped without it).

    make bench-overhead     # python -m bench.overhead; --help for the sizes

The table goes to stderr, one JSON line to stdout. The machine is shared and noisy: the
figures are for this run; ratios (2, 3) hold better than absolute times.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from typing import Any

from bench.overhead_bus import measure_bus
from bench.overhead_validate import measure_validate
from bench.overhead_vllm import measure_vllm

GOALS = {"bus_added_ms_p50": 3.0, "bus_added_ms_p99": 15.0, "max_rps": 1000.0}
VALIDATE_GOAL = 0.05


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="sequential requests (bus)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (max_rps)")
    parser.add_argument("--seconds", type=float, default=20.0, help="max_rps duration")
    parser.add_argument(
        "--sweep", default="64,128,256", help="more concurrent clients (max_rps); '' skips"
    )
    parser.add_argument("--sweep-seconds", type=float, default=10.0, help="each sweep level")
    parser.add_argument("--profile-seconds", type=float, default=5.0, help="0: no profile")
    parser.add_argument("--lengths", default="32,128,512", help="answer lengths (checking)")
    parser.add_argument("--runs", type=int, default=3, help="runs per length (checking)")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("ATTESTA_TORCH_THREADS", "0")) or None,
        help="torch threads for generating and checking alike; default torch's own (every "
        "core), as executors and validators run",
    )
    parser.add_argument("--e2e-runs", type=int, default=3, help="0: skip bench.e2e_latency")
    parser.add_argument(
        "--vllm-levels", default="1,4,16", help="concurrent requests (executor_vs_vllm); '' skips"
    )
    parser.add_argument("--vllm-tokens", type=int, default=64, help="answer length (vLLM)")
    parser.add_argument("--vllm-rounds", type=int, default=4, help="rounds per level (vLLM)")
    return parser.parse_args()


def _e2e(runs: int) -> dict[str, Any]:
    """bench.e2e_latency's own measurement; its JSON line is read from its stdout."""
    from bench import e2e_latency

    os.environ["RUNS"] = str(runs)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        e2e_latency.main()
    return dict(json.loads(captured.getvalue().strip().splitlines()[-1]))


def _table(result: dict[str, Any]) -> str:
    lines = ["", "| figure | measured | goal |", "|---|---|---|"]
    for name, goal in GOALS.items():
        relation = ">=" if name == "max_rps" else "<="
        lines.append(f"| {name} | {result[name]} | {relation} {goal:g} |")
    for length, row in result["validate"].items():
        lines.append(
            f"| validate_over_generate @{length} ({row['tokens']} tokens) "
            f"| {row['validate_over_generate']} "
            f"({row['check_s']} s / {row['generate_s']} s, {row['torch_threads']} threads) "
            f"| {'<= ' + str(VALIDATE_GOAL) if length == '512' else '-'} |"
        )
    if "e2e_vs_engine" in result:
        lines.append(
            f"| e2e_vs_engine ({result['e2e']['tokens']} tokens) | {result['e2e_vs_engine']} | - |"
        )
    for level, row in result.get("vllm", {}).items():
        if isinstance(row, dict):
            lines.append(
                f"| executor_vs_vllm @{level} concurrent | {row['executor_vs_vllm']} "
                f"({row['network_tok_s']} / {row['vllm_tok_s']} tok/s) | - |"
            )
    if not isinstance(result["executor_vs_vllm"], dict):
        lines.append(f"| executor_vs_vllm | open: {result.get('vllm', {}).get('open')} | - |")
    lines.append("")
    lines.append(
        "requests/s by concurrent clients: "
        + ", ".join(f"{n}: {row['rps']}" for n, row in result["rps_by_clients"].items())
        + f" (max_rps at {result['max_rps_clients']})"
    )
    lines.append(
        f"CPU ms per request at {result['rps_clients']} clients: "
        + json.dumps(result["cpu_ms_per_request"])
    )
    for name in ("gateway", "executor"):
        shares = result.get(f"{name}_profile_by_package")
        if shares:
            top = ", ".join(f"{package} {share:.0%}" for package, share in shares[:8])
            lines.append(f"{name} profile (own time): {top}")
    return "\n".join(lines)


def main() -> None:
    args = _arguments()
    result: dict[str, Any] = measure_bus(
        args.requests,
        args.clients,
        args.seconds,
        args.profile_seconds,
        sweep=[int(n) for n in args.sweep.split(",") if n],
        sweep_s=args.sweep_seconds,
    )
    lengths = [int(n) for n in args.lengths.split(",") if n]
    result["validate"] = measure_validate(lengths, args.runs, args.threads)
    longest = result["validate"][str(max(lengths))]
    result["validate_over_generate"] = longest["validate_over_generate"]
    if args.e2e_runs > 0:
        result["e2e"] = _e2e(args.e2e_runs)
        result["e2e_vs_engine"] = result["e2e"]["e2e_vs_engine"]
    levels = [int(n) for n in args.vllm_levels.split(",") if n]
    if levels:
        result["vllm"] = measure_vllm(levels, args.vllm_tokens, args.vllm_rounds)
        result["executor_vs_vllm"] = {
            level: row["executor_vs_vllm"]
            for level, row in result["vllm"].items()
            if isinstance(row, dict)
        } or None
    else:
        result["executor_vs_vllm"] = None
    print(_table(result), file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
