"""The services' event loop: uvloop by default where installed, asyncio on request."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from attesta_common import event_loop
from attesta_common.settings import ServiceSettings


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_auto_runs_on_uvloop_and_asyncio_on_request() -> None:
    assert event_loop.run(_loop_type()) is uvloop.Loop
    assert event_loop.run(_loop_type(), "asyncio") is not uvloop.Loop
    assert event_loop.uvicorn_loop("auto") == "uvloop"
    assert event_loop.uvicorn_loop("asyncio") == "asyncio"


def test_the_choice_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTESTA_EVENT_LOOP", "asyncio")
    assert ServiceSettings().event_loop == "asyncio"
    monkeypatch.setenv("ATTESTA_EVENT_LOOP", "tokio")
    with pytest.raises(ValueError, match="event_loop"):
        ServiceSettings()
