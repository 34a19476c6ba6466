"""What the gateway's routes run per request, checked without serving any."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from attesta_gateway.routers import chat, completions, health, inferences, ledger, metrics, models
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def test_no_route_depends_on_a_thread() -> None:
    # FastAPI runs a plain `def` endpoint or dependency in its thread pool: a thread hop
    # and two wake-ups per request on the hot path (docs/overhead.md).
    routers = (chat, completions, health, inferences, ledger, metrics, models)
    routes = [r for m in routers for r in m.router.routes if isinstance(r, APIRoute)]
    assert {"/v1/chat/completions", "/v1/completions"} <= {r.path for r in routes}
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path
        for call in _calls(route.dependant):
            assert inspect.iscoroutinefunction(call), f"{route.path}: {call}"
