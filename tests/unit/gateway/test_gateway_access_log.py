"""uvicorn's access log written after the response (attesta_gateway.access_log)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest
from attesta_gateway.access_log import ACCESS_LOGGER, write_after_response


class Kept(logging.Handler):
    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_logger() -> Iterator[tuple[logging.Logger, Kept, Kept]]:
    logger = logging.getLogger(ACCESS_LOGGER)
    saved = (logger.handlers, logger.level, logger.propagate)
    every, warnings = Kept(), Kept(logging.WARNING)
    logger.handlers, logger.propagate = [every, warnings], False
    logger.setLevel(logging.INFO)
    yield logger, every, warnings
    logger.handlers, logger.level, logger.propagate = saved


async def test_lines_are_written_on_the_next_pass_in_order(
    access_logger: tuple[logging.Logger, Kept, Kept],
) -> None:
    logger, every, warnings = access_logger
    handlers = list(logger.handlers)
    restore = write_after_response(asyncio.get_running_loop())
    logger.info("GET /a 200")
    logger.warning("GET /b 500")
    # Nothing yet: the response the first line is about goes out in this same step.
    assert every.lines == [] and warnings.lines == []
    await asyncio.sleep(0)
    assert every.lines == ["GET /a 200", "GET /b 500"]
    assert warnings.lines == ["GET /b 500"]  # each handler keeps its own level

    restore()
    assert logger.handlers == handlers


async def test_restoring_writes_what_is_held(
    access_logger: tuple[logging.Logger, Kept, Kept],
) -> None:
    logger, every, _ = access_logger
    restore = write_after_response(asyncio.get_running_loop())
    logger.info("GET /last 200")
    restore()
    assert every.lines == ["GET /last 200"]
    logger.info("GET /after 200")  # the handlers are back: written at once
    assert every.lines == ["GET /last 200", "GET /after 200"]


async def test_other_threads_are_written_at_once(
    access_logger: tuple[logging.Logger, Kept, Kept],
) -> None:
    logger, every, _ = access_logger
    restore = write_after_response(asyncio.get_running_loop())
    thread = threading.Thread(target=logger.info, args=("from a thread",))
    thread.start()
    thread.join()
    assert every.lines == ["from a thread"]
    restore()


async def test_a_logger_without_handlers_is_left_alone() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    saved = logger.handlers
    logger.handlers = []
    try:
        write_after_response(asyncio.get_running_loop())()
        assert logger.handlers == []
    finally:
        logger.handlers = saved
