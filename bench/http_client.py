"""A lean HTTP/1.1 keep-alive client for the overhead bench's load.

On a 2-core host the load generator competes with the services it measures: httpx spent
about 1.5 ms of CPU per request (docs/overhead.md), as much as NATS and Postgres together.
This client writes pre-encoded requests on a raw asyncio stream and reads the status line,
the headers and a `Content-Length` body, nothing more; like `wrk`, it is built to cost
little, not to speak all of HTTP (no chunked bodies, no redirects, no TLS). Every answer
is still checked: the status must be 200 and the body an object with `choices`, or the
request counts as failed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class BadResponse(Exception):
    """An answer that is not a 200 with a complete JSON body."""


def encode_request(host: str, path: str, key: str, body: dict[str, Any] | None) -> bytes:
    """One request's bytes; POST with a JSON body, or GET without one."""
    lines = [
        f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: Bearer {key}",
        "Connection: keep-alive",
    ]
    payload = b""
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> bytes:
        """Send `raw`; the body of its 200 answer."""
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = head[9:12]
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise BadResponse(f"no content-length in {head[:200]!r}")
        body = await self._reader.readexactly(length)
        if status != b"200":
            raise BadResponse(f"status {status.decode()}: {body[:200]!r}")
        return body

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def check_completion(body: bytes) -> None:
    """A chat completion object, as the gateway answers it."""
    data = json.loads(body)
    if not isinstance(data, dict) or not data.get("choices"):
        raise BadResponse(f"not a completion: {body[:200]!r}")
