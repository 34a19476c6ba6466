"""uvicorn's HTTP protocol with each response's head and body written together.

uvicorn writes a response's head and its body with two `transport.write` calls; on uvloop
each is a `send` of its own, and the client often reads two packets. The gateway's
answers are small, so the second system call was as dear as the first (about a tenth of
the gateway's time per request, docs/overhead.md). Here a head is held until the next
write on the same connection, which for a response with a body comes in the same step of
the same task; a head with nothing after it (a streamed answer's, before its first event)
goes out on the loop's next pass.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD_START = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"


class HeadHoldingTransport:
    """A transport that joins a response head to whatever is written next."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif isinstance(data, bytes) and data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self._release)
        else:
            self._transport.write(data)

    def _release(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def get_write_buffer_size(self) -> int:
        held = 0 if self._held is None else len(self._held)
        return self._transport.get_write_buffer_size() + held

    def write_eof(self) -> None:
        self._release()
        self._transport.write_eof()

    def close(self) -> None:
        self._release()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # Everything else (flow control, extra info, is_closing) is the transport's own.
        return getattr(self._transport, name)


class HeadHoldingHttpToolsProtocol(HttpToolsProtocol):
    """`uvicorn.Config(http=...)`: httptools, one write per small response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        holding: Any = HeadHoldingTransport(transport, self.loop)
        super().connection_made(holding)
