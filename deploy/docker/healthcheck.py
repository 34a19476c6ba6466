"""Container health checks for the Attesta images (standard library only).

    healthcheck.py http URL            exit 0 when URL answers 2xx within 3 s
    healthcheck.py process NAME        exit 0 when PID 1 runs NAME and is not stopped/zombie

Only the gateway serves HTTP today (GET /health, /health/live). The executor, validator,
chain-writer and settler have no health endpoint yet, so their check is process-based:
it catches a wedged or stopped main process, not a lost NATS or Postgres connection
(the services exit on those, and the restart policy brings them back).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


def process_ok(name: str) -> bool:
    try:
        with open("/proc/1/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        with open("/proc/1/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return name in cmdline and state not in ("T", "t", "Z", "X")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("http", "process"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, target = argv
    ok = http_ok(target) if kind == "http" else process_ok(target)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
