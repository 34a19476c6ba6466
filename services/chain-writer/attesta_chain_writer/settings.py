"""Chain-writer settings, read from ATTESTA_* environment variables."""

from __future__ import annotations

from pathlib import Path

from attesta_common.settings import ServiceSettings
from pydantic import Field


class ChainWriterSettings(ServiceSettings):
    key_path: Path = Path(".data/keys/chain-writer.key")

    batch_size: int = Field(default=1000, ge=1)
    batch_interval_ms: int = Field(default=500, ge=1)
    consumer_durable: str = "chain-writer"
    # Messages per pull request, handled concurrently (bounded by the database pool).
    fetch_batch_size: int = Field(default=100, ge=1)
    # How long an idle pull request waits; a pull returns as soon as messages are there.
    fetch_timeout_ms: int = Field(default=1000, ge=1)
    # A message neither acked nor nacked (crash mid-insert) comes back after this long.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Delay before a message whose insert failed is redelivered, so an outage of the
    # database does not turn into a hot redelivery loop.
    retry_delay_s: float = Field(default=1.0, ge=0)
    # On shutdown, how long sealing and anchoring the still pending records may take.
    shutdown_flush_s: float = Field(default=5.0, ge=0)

    @property
    def batch_interval_s(self) -> float:
        return self.batch_interval_ms / 1000

    @property
    def fetch_timeout_s(self) -> float:
        return self.fetch_timeout_ms / 1000
