"""Fixtures shared by the integration tests that run several services together.

Imports of services stay inside the fixtures: the vLLM environment (make test-vllm) runs
integration tests without the gateway installed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from attesta_gateway.settings import GatewaySettings
    from opentelemetry.sdk.trace import TracerProvider

ServeGateway = Callable[..., AbstractAsyncContextManager[str]]


@contextlib.asynccontextmanager
async def _serve_gateway(
    settings: GatewaySettings, provider: TracerProvider | None = None
) -> AsyncIterator[str]:
    """The real gateway app under uvicorn in this process; yields its base URL."""
    import uvicorn
    from attesta_gateway.http_protocol import HeadHoldingHttpToolsProtocol
    from attesta_gateway.main import create_app

    app = create_app(settings, tracer_provider=provider)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
            http=HeadHoldingHttpToolsProtocol,
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
def serve_gateway() -> ServeGateway:
    return _serve_gateway
