"""Request rate and latency per route template, as a small ASGI class.

The route label is the matched path template (`/v1/inferences/{inference_id}`), never the
raw path, so ids cannot blow up the metric's cardinality. For streamed answers the
duration covers the whole stream.
"""

from __future__ import annotations

import time

from attesta_common.metrics import GATEWAY_REQUEST_DURATION, GATEWAY_REQUESTS
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            GATEWAY_REQUESTS.labels(route=template, status=str(status)).inc()
            GATEWAY_REQUEST_DURATION.labels(route=template).observe(time.perf_counter() - started)
