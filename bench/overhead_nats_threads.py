"""`python -m bench.overhead_nats_threads`: the bus with nats-server on Go's default number
of threads (one per core) beside one thread (`attesta_devnet.nats_server`'s default),
alternately, `ROUNDS` times each (default 4).

The same code on both sides, so `bench.overhead_versions` cannot compare them: the
launcher of the bench process starts NATS for either revision. Each round is that bench's
measurement (`REQUESTS` sequential requests, then `CLIENTS` clients for `SECONDS`); one
JSON line of medians and ratios (one thread over Go's default).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Any

from bench.overhead_versions import _measure

SIDES = {"go_default": str(os.cpu_count() or 1), "one_thread": "1"}


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", "4"))
    requests = int(os.environ.get("REQUESTS", "500"))
    seconds = float(os.environ.get("SECONDS", "8"))
    clients = int(os.environ.get("CLIENTS", "128"))
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name in SIDES}
    for round_ in range(rounds):
        order = list(SIDES) if round_ % 2 == 0 else list(reversed(SIDES))
        for name in order:
            # An explicit GOMAXPROCS wins over the launcher's default.
            os.environ["GOMAXPROCS"] = SIDES[name]
            row = _measure(None, requests, seconds, clients)
            seen[name].append(row)
            print(
                f"round {round_ + 1} {name} (GOMAXPROCS={SIDES[name]}): "
                f"p50 {row['p50_ms']:.2f} ms, {row['rps']:.0f} rps, "
                f"{row['cpu_ms']:.2f} CPU ms/request (NATS {row['cpu_ms_nats']:.3f})",
                file=sys.stderr,
            )
    medians = {
        name: {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}
        for name, rows in seen.items()
    }
    keys = ("p50_ms", "p99_ms", "rps", "cpu_ms", "cpu_ms_nats")
    ratios = {k: round(medians["one_thread"][k] / medians["go_default"][k], 3) for k in keys}
    print(
        json.dumps(
            {
                "rounds": rounds,
                "clients": clients,
                "gomaxprocs": SIDES,
                **medians,
                "one_thread_over_go_default": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
