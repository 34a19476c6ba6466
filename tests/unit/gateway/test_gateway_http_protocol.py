"""A response's head and body leave in one write; nothing is held past the loop's turn."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn
from attesta_gateway.http_protocol import HeadHoldingHttpToolsProtocol, HeadHoldingTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def _holding() -> tuple[HeadHoldingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return HeadHoldingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_a_head_and_its_body_are_one_write() -> None:
    holding, inner = _holding()
    holding.write(HEAD)
    assert inner.writes == []
    assert holding.get_write_buffer_size() == len(HEAD)
    holding.write(b"{}")
    assert inner.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)
    assert inner.writes == [HEAD + b"{}"]


async def test_a_head_alone_goes_out_on_the_next_pass() -> None:
    holding, inner = _holding()
    holding.write(HEAD)
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    holding.write(b"data: 1\n\n")
    assert inner.writes == [HEAD, b"data: 1\n\n"]


async def test_other_writes_pass_straight_through() -> None:
    holding, inner = _holding()
    for data in (b"{}", b"HTTP/1.1 is not a head without its end", bytearray(b"x")):
        holding.write(data)
    assert inner.writes == [b"{}", b"HTTP/1.1 is not a head without its end", b"x"]


async def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    holding, inner = _holding()
    holding.write(HEAD)
    holding.close()
    assert (inner.writes, inner.closed) == ([HEAD], True)
    holding, inner = _holding()
    holding.write(HEAD)
    holding.abort()
    await asyncio.sleep(0)
    assert (inner.writes, inner.aborted) == ([], True)
    # Anything else is the transport's own.
    assert holding.get_extra_info("peername") == ("127.0.0.1", 1)


async def _plain(_: Request) -> Response:
    return JSONResponse({"answer": 42})


async def _streamed(_: Request) -> Response:
    async def events() -> Any:
        for n in range(3):
            await asyncio.sleep(0.01)
            yield f"data: {n}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def test_uvicorn_serves_plain_and_streamed_answers_through_it() -> None:
    app = Starlette(routes=[Route("/plain", _plain), Route("/stream", _streamed)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", http=HeadHoldingHttpToolsProtocol
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(3):  # one keep-alive connection, several responses
                plain = await client.get("/plain")
                assert (plain.status_code, plain.json()) == (200, {"answer": 42})
            async with client.stream("GET", "/stream") as streamed:
                assert streamed.status_code == 200
                assert [line async for line in streamed.aiter_lines() if line] == [
                    "data: 0",
                    "data: 1",
                    "data: 2",
                ]
    finally:
        server.should_exit = True
        await serving
