"""`python -m bench.overhead_nats_threads`: the bus with nats-server on Go's default number
of threads (one per core) beside one thread (`attesta_devnet.nats_server`'s default),
alternately, `ROUNDS` times each (default 4).

The same code on both sides, so `bench.overhead_versions` cannot compare them: the
launcher of the bench process starts NATS for either revision. Each round is that bench's
measurement (`REQUESTS` sequential requests, then `CLIENTS` clients for `SECONDS`); one
JSON line of medians and ratios (one thread over Go's default).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from bench.overhead_versions import alternate, measure_round, median_rows

SIDES = {"go_default": str(os.cpu_count() or 1), "one_thread": "1"}


def _with_threads(value: str, requests: int, seconds: float, clients: int) -> dict[str, Any]:
    # An explicit GOMAXPROCS wins over the launcher's default.
    os.environ["GOMAXPROCS"] = value
    return measure_round(None, requests, seconds, clients)


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", "4"))
    requests = int(os.environ.get("REQUESTS", "500"))
    seconds = float(os.environ.get("SECONDS", "8"))
    clients = int(os.environ.get("CLIENTS", "128"))
    sides = {
        name: functools.partial(_with_threads, value, requests, seconds, clients)
        for name, value in SIDES.items()
    }
    medians = median_rows(alternate(sides, rounds))
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
