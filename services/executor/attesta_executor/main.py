"""The `attesta-executor` process: settings, identity, then the executor until SIGINT or
SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from attesta_common import event_loop, heap
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.telemetry import setup_logging, setup_tracing
from opentelemetry.trace import TracerProvider

from attesta_executor.service import Executor, StartupError
from attesta_executor.settings import ExecutorSettings

log = logging.getLogger(__name__)


def create_executor(
    settings: ExecutorSettings, tracer_provider: TracerProvider | None = None
) -> Executor:
    """The app factory: genesis and key from the settings; SystemExit with the reason when
    they cannot serve."""
    try:
        genesis = Genesis.load(settings.genesis_path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"executor: cannot load genesis {settings.genesis_path}: {exc}") from exc
    try:
        key = SigningKey.load(settings.key_path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"executor: cannot load key {settings.key_path}: {exc}") from exc
    try:
        return Executor(settings, genesis, key, tracer_provider=tracer_provider)
    except StartupError as exc:
        raise SystemExit(
            f"executor: {exc} (key {settings.key_path}, genesis {settings.genesis_path})"
        ) from exc


async def run(executor: Executor) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await executor.start()
    except StartupError as exc:
        await executor.stop()
        raise SystemExit(f"executor: {exc}") from exc
    heap.settle()
    await stopping.wait()
    log.info("executor stopping")
    await executor.stop()


def main() -> None:
    settings = ExecutorSettings()
    setup_logging(settings.log_level)
    tracer_provider = setup_tracing("executor")
    event_loop.run(run(create_executor(settings, tracer_provider)), settings.event_loop)


if __name__ == "__main__":
    main()
