"""`python -m bench.overhead_gateway`: the gateway app as `attesta-gateway` runs it (same
tracer, log level and access log), plus an optional profiling window (overhead_profile)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import uvicorn
from attesta_common import event_loop
from attesta_common.telemetry import setup_logging, setup_tracing
from attesta_gateway.main import create_app
from attesta_gateway.settings import GatewaySettings

from bench.overhead_profile import profile_window


async def _serve(settings: GatewaySettings) -> None:
    app = create_app(settings, tracer_provider=setup_tracing("attesta-api-gateway"))
    _settle_heap()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            # "h11" measures uvicorn's pure-Python parser against httptools.
            http=os.environ.get("BENCH_UVICORN_HTTP") or _http_protocol(),
        )
    )
    window = asyncio.create_task(profile_window("gateway"))
    try:
        await server.serve()
    finally:
        window.cancel()


def _http_protocol() -> Any:
    """What `attesta_gateway.main` runs uvicorn with; bench.overhead_versions also runs
    revisions from before `attesta_gateway.http_protocol` existed (uvicorn's own choice)."""
    try:
        from attesta_gateway.http_protocol import HeadHoldingHttpToolsProtocol
    except ImportError:
        return "auto"
    return HeadHoldingHttpToolsProtocol


def _settle_heap() -> None:
    """As `attesta_gateway.main` does; bench.overhead_versions also runs revisions from
    before `attesta_common.heap` existed."""
    try:
        from attesta_common import heap
    except ImportError:
        return
    heap.settle()


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    event_loop.run(_serve(settings), settings.event_loop)


if __name__ == "__main__":
    main()
