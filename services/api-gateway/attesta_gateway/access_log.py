"""uvicorn's access log, written once the response is out.

uvicorn logs a request's line when its response starts, before the body is written: the
line's formatting and its write came first, about 45 us of a sequential request's path
on this project's host (docs/overhead.md). Here the access logger's handlers get each
record on the event loop's next pass instead, after the step that sent the response;
the records keep their order and their own timestamps. Records from other threads (none
come from uvicorn) are handed on at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

ACCESS_LOGGER = "uvicorn.access"


class AfterResponseHandler(logging.Handler):
    """Holds records for `targets` until the loop's next pass."""

    def __init__(self, targets: Sequence[logging.Handler], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._targets = tuple(targets)
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._held: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if threading.get_ident() != self._loop_thread or self._loop.is_closed():
            self._hand_on(record)
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(record)

    def flush(self) -> None:
        held, self._held = self._held, []
        for record in held:
            self._hand_on(record)

    def _hand_on(self, record: logging.LogRecord) -> None:
        for target in self._targets:
            if record.levelno >= target.level:
                target.handle(record)


def write_after_response(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Defer the access logger's own handlers (called on `loop`); the returned function
    writes what is held and puts them back. A logger without handlers of its own (its
    records go to the root's) is left as it is."""
    logger = logging.getLogger(ACCESS_LOGGER)
    targets = list(logger.handlers)
    if not targets:
        return lambda: None
    deferred = AfterResponseHandler(targets, loop)
    logger.handlers = [deferred]

    def restore() -> None:
        deferred.flush()
        if logger.handlers == [deferred]:
            logger.handlers = targets

    return restore
