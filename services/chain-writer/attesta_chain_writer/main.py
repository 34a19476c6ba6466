"""The `attesta-chain-writer` process: settings, identity, database, then the service
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from attesta_common import event_loop, heap
from attesta_common.db import create_pool
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_common.telemetry import setup_logging, setup_tracing
from opentelemetry.trace import TracerProvider

from attesta_chain_writer.service import ChainWriter, migrate_database
from attesta_chain_writer.settings import ChainWriterSettings

log = logging.getLogger(__name__)


def load_identity(settings: ChainWriterSettings) -> tuple[Genesis, SigningKey]:
    """Genesis and the key; SystemExit with the reason when they cannot serve."""
    try:
        genesis = Genesis.load(settings.genesis_path)
    except (OSError, ValueError) as exc:
        raise SystemExit(
            f"chain-writer: cannot load genesis {settings.genesis_path}: {exc}"
        ) from exc
    try:
        key = SigningKey.load(settings.key_path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"chain-writer: cannot load key {settings.key_path}: {exc}") from exc
    if not genesis.has_role(key.address, Role.CHAIN_WRITER):
        raise SystemExit(
            f"chain-writer: key {settings.key_path} ({key.address}) does not hold the"
            f" chain_writer role in genesis {settings.genesis_path}"
        )
    return genesis, key


async def run(
    settings: ChainWriterSettings,
    genesis: Genesis,
    key: SigningKey,
    tracer_provider: TracerProvider | None = None,
) -> None:
    """Run the chain-writer until SIGINT or SIGTERM, then stop it cleanly."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    pool = await create_pool(settings.database_url)
    try:
        await migrate_database(pool)
        writer = ChainWriter(settings, genesis, key, pool, tracer_provider=tracer_provider)
        await writer.start()
        log.info("chain-writer %s consuming as %r", key.address, settings.consumer_durable)
        heap.settle()
        await stopping.wait()
        log.info("chain-writer stopping")
        await writer.stop()
    finally:
        await pool.close()


def main() -> None:
    settings = ChainWriterSettings()
    setup_logging(settings.log_level)
    tracer_provider = setup_tracing("chain-writer")
    genesis, key = load_identity(settings)
    event_loop.run(run(settings, genesis, key, tracer_provider), settings.event_loop)


if __name__ == "__main__":
    main()
