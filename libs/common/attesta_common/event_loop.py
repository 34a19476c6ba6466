"""The event loop every service runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv) schedules callbacks and handles sockets in C; on the request path of a
2-core host it is a large share of what the services spend per request (docs/overhead.md).
`ATTESTA_EVENT_LOOP=asyncio` keeps the standard loop (for debugging, or a platform uvloop
does not support); `uvloop` insists on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

EventLoopChoice = Literal["auto", "asyncio", "uvloop"]
T = TypeVar("T")


def loop_factory(
    choice: EventLoopChoice = "auto",
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What `asyncio.Runner` should build its loop with; None for asyncio's default."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as exc:
        if choice == "uvloop":
            raise RuntimeError("ATTESTA_EVENT_LOOP=uvloop, but uvloop is not installed") from exc
        return None
    return uvloop.new_event_loop


def uvicorn_loop(choice: EventLoopChoice = "auto") -> Literal["asyncio", "uvloop"]:
    """The same choice in uvicorn's terms."""
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice = "auto") -> T:
    """`asyncio.run(main)` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
