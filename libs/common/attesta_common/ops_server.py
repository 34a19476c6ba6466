"""Liveness, readiness and Prometheus metrics over HTTP for services without a web app.

Deliberately tiny (asyncio streams, GET only): the executor, validator, chain-writer and
settler need three read-only endpoints, not a framework. Liveness answers as long as the
event loop turns, so it never depends on Postgres or NATS; readiness asks the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Readiness = Callable[[], tuple[bool, str]]


class OpsServer:
    def __init__(
        self,
        host: str,
        port: int,
        readiness: Readiness,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._host, self._port = host, port
        self._readiness = readiness
        self._registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info(
            "ops endpoints on http://%s:%d (/health/live, /health/ready, /metrics)",
            self._host,
            self.port,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path in ("/health/live", "/livez"):
            return 200, "text/plain", b"live\n"
        if path in ("/health/ready", "/health", "/readyz"):
            ready, detail = self._readiness()
            return (200 if ready else 503), "text/plain", f"{detail}\n".encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return 404, "text/plain", b"not found\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass  # headers are not needed for these endpoints
            parts = request_line.decode("latin-1").split()
            if len(parts) < 2 or parts[0] != "GET":
                status, kind, body = 405, "text/plain", b"GET only\n"
            else:
                status, kind, body = self._route(parts[1].split("?", 1)[0])
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}.get(
                status, "Service Unavailable"
            )
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def start_ops_server(host: str, port: int | None, readiness: Readiness) -> OpsServer | None:
    """Start the ops endpoints when a port is configured (0 picks a free one)."""
    if port is None:
        return None
    server = OpsServer(host, port, readiness)
    await server.start()
    return server
