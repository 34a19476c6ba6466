"""Request rate and latency per route template, as a small ASGI class.

The route label is the matched path template (`/v1/inferences/{inference_id}`), never the
raw path, so ids cannot blow up the metric's cardinality. For streamed answers the
duration covers the whole stream.
"""

from __future__ import annotations

import time

from attesta_common.metrics import GATEWAY_REQUEST_DURATION, GATEWAY_REQUESTS
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled series per (route template, status), looked up once: finding a
        # child by its labels costs a lock and a tuple of strings every time. Bounded by
        # the routes and the statuses.
        self._series: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def _series_of(self, template: str, status: int) -> tuple[Counter, Histogram]:
        series = self._series.get((template, status))
        if series is None:
            series = self._series[(template, status)] = (
                GATEWAY_REQUESTS.labels(route=template, status=str(status)),
                GATEWAY_REQUEST_DURATION.labels(route=template),
            )
        return series

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
            requests, duration = self._series_of(template, status)
            requests.inc()
            duration.observe(time.perf_counter() - started)
