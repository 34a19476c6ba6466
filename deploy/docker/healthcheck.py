"""Container health check for the Attesta images (standard library only).

    healthcheck.py http URL            exit 0 when URL answers 2xx within 3 s

The gateway is checked on its API port (GET /health: NATS and Postgres reachable). The
executor, validator, chain-writer and settler serve GET /health/ready on their ops port
(ATTESTA_OPS_PORT, 9100 in the images): 200 once the engine is loaded, the broker is
connected and the service's loops run, 503 with the reason otherwise.
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


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "http":
        print(__doc__, file=sys.stderr)
        return 2
    return 0 if http_ok(argv[1]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
