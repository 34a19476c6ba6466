"""`python -m bench.overhead_gateway`: the gateway app as `attesta-gateway` runs it (same
tracer, log level and access log), plus an optional profiling window (overhead_profile)."""

from __future__ import annotations

import asyncio

import uvicorn
from attesta_common.telemetry import setup_logging, setup_tracing
from attesta_gateway.main import create_app
from attesta_gateway.settings import GatewaySettings

from bench.overhead_profile import profile_window


async def _serve(settings: GatewaySettings) -> None:
    app = create_app(settings, tracer_provider=setup_tracing("attesta-api-gateway"))
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level=settings.log_level.lower()
        )
    )
    window = asyncio.create_task(profile_window("gateway"))
    try:
        await server.serve()
    finally:
        window.cancel()


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
