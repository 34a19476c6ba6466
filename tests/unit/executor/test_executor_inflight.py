"""Requests in hand: counted, awaited on shutdown, and kept alive by one ticking task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from attesta_executor.inflight import InFlight


class Message:
    def __init__(self) -> None:
        self.marked = 0

    async def in_progress(self) -> None:
        self.marked += 1


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - polling a plain counter
            await asyncio.sleep(0.005)


async def test_requests_in_hand_are_marked_in_progress_until_done() -> None:
    in_flight = InFlight()
    ticker = asyncio.create_task(in_flight.keep_alive(0.02))
    held, finished = Message(), Message()
    try:
        with in_flight.track(held):
            with in_flight.track(finished):
                assert in_flight.count == 2
                await _until(lambda: finished.marked >= 2)
            marks, since = finished.marked, held.marked
            assert in_flight.count == 1
            # Two more rounds of marks: the finished request is no longer among them.
            await _until(lambda: held.marked >= since + 2)
            assert finished.marked == marks
        assert await in_flight.wait_idle(0.01)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


async def test_wait_idle_times_out_while_a_request_is_held() -> None:
    in_flight = InFlight()
    with in_flight.track(Message()):
        assert not await in_flight.wait_idle(0.02)
    assert await in_flight.wait_idle(0.02)
