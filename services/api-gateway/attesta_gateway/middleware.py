"""ASGI middlewares, kept as small classes around the raw ASGI interface."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attesta_gateway.errors import OpenAIError


class BodyTooLarge(OpenAIError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body exceeds {limit} bytes",
            code="request_too_large",
        )


class BodySizeLimitMiddleware:
    """Refuse bodies above `max_bytes` with 413.

    The declared Content-Length is checked before the app runs; bodies without one
    (chunked) are counted as they stream in, so a lying or absent header cannot push an
    unbounded body into memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await BodyTooLarge(self.max_bytes).response()(scope, receive, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            # Normally the app's error handler answers; this covers a body read outside it.
            if response_started:
                raise
            await exc.response()(scope, receive, send)
