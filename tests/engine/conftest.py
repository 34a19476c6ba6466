"""Engines for the contract suite, each loaded once per session.

"reference" always; "vllm" (the async adapter the executor uses) where vLLM is installed,
which is its own environment (.venv-vllm): run this folder there with
`--confcutdir=tests/engine` so the repository's conftest (NATS, Postgres) is not loaded.
ATTESTA_REQUIRE_VLLM=1 turns a missing vLLM into a failure instead of a skip (CI).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from attesta_engine.port import Engine
from engine_pool import ENGINES, EnginePool


@pytest.fixture(scope="session")
def engine_pool() -> Iterator[EnginePool]:
    pool = EnginePool()
    yield pool
    pool.close()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest, engine_pool: EnginePool) -> Engine:
    return engine_pool.get(request.param)
