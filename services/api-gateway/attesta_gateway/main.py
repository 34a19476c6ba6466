"""The gateway app factory and the `attesta-gateway` entry point."""

from __future__ import annotations

import uvicorn
from attesta_common import event_loop, heap
from attesta_common.telemetry import setup_logging, setup_tracing
from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from attesta_gateway.context import ProofLoader
from attesta_gateway.errors import install_error_handlers
from attesta_gateway.http_protocol import HeadHoldingHttpToolsProtocol
from attesta_gateway.lifespan import lifespan
from attesta_gateway.metrics_middleware import MetricsMiddleware
from attesta_gateway.middleware import BodySizeLimitMiddleware
from attesta_gateway.routers import chat, completions, health, inferences, ledger, metrics, models
from attesta_gateway.settings import GatewaySettings
from attesta_gateway.tracing_middleware import TracingMiddleware


def create_app(
    settings: GatewaySettings,
    *,
    proof_loader: ProofLoader | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The ASGI app; everything it connects to is opened by its lifespan, not here.

    `proof_loader` replaces attesta_chain_writer.proofs.load_proof (tests, other ledgers).
    """
    app = FastAPI(
        title="Attesta API gateway",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry would open a second server span per request beside
        # TracingMiddleware's (which continues the client's trace into the executor's).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.proofs = proof_loader
    app.state.tracer_provider = tracer_provider
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outermost, so refused bodies (413) and errors are counted and traced too.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(TracingMiddleware, tracer_provider=tracer_provider)
    install_error_handlers(app)
    for module in (chat, completions, models, inferences, ledger, health, metrics):
        app.include_router(module.router)
    return app


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    tracer_provider = setup_tracing("attesta-api-gateway")
    app = create_app(settings, tracer_provider=tracer_provider)
    # Before the lifespan opens pools and connections: the bulk (modules, schemas, the
    # app) exists by now.
    heap.settle()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        loop=event_loop.uvicorn_loop(settings.event_loop),
        http=HeadHoldingHttpToolsProtocol,
        # Streams in flight get this long before the lifespan drains the rest.
        timeout_graceful_shutdown=int(settings.shutdown_drain_s) or None,
    )


if __name__ == "__main__":
    main()
