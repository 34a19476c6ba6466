"""`python -m bench.overhead_executor`: the real executor service on the instant engine.

The service's settings only know the reference and vLLM engines, so the bench runs the
executor itself, handing it the instant engine; everything else (settings from ATTESTA_*,
tracing, consumer, heartbeats, signing, records) is the production code path.
"""

from __future__ import annotations

import asyncio

from attesta_common import event_loop
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.telemetry import setup_logging, setup_tracing
from attesta_engine.instant import InstantEngine
from attesta_engine.model_store import ensure_reference_model
from attesta_executor.main import run
from attesta_executor.service import Executor
from attesta_executor.settings import ExecutorSettings

from bench.overhead_profile import profile_window


def main() -> None:
    settings = ExecutorSettings()
    setup_logging(settings.log_level)
    genesis = Genesis.load(settings.genesis_path)
    model = genesis.model(settings.model)
    if model is None:
        raise SystemExit(f"model {settings.model!r} is not in genesis")
    engine = InstantEngine(ensure_reference_model(), model_name=model.name, top_k=model.top_k)
    key = SigningKey.load(settings.key_path)
    # As attesta_executor.main sets it up (until 2026-12-07 the bench's executor had none,
    # and OpenTelemetry's no-op tracer cost it less than the SDK's does in production).
    tracer_provider = setup_tracing("executor")
    executor = Executor(settings, genesis, key, engine=engine, tracer_provider=tracer_provider)
    event_loop.run(_serve(executor), settings.event_loop)


async def _serve(executor: Executor) -> None:
    window = asyncio.create_task(profile_window("executor"))
    try:
        await run(executor)
    finally:
        window.cancel()


if __name__ == "__main__":
    main()
