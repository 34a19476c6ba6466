"""Chain-writer settings, read from ATTESTA_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from attesta_common.settings import ServiceSettings
from pydantic import Field


class ChainWriterSettings(ServiceSettings):
    key_path: Path = Path(".data/keys/chain-writer.key")

    batch_size: int = Field(default=1000, ge=1)
    batch_interval_ms: int = Field(default=500, ge=1)
    consumer_durable: str = "chain-writer"
    # Messages per pull request: checked together, inserted in one statement, then acked.
    # 2000 rather than 1000: fewer pulls and inserts, ~10% more records/s (bench-anchoring).
    fetch_batch_size: int = Field(default=2000, ge=1)
    # How long an idle pull request waits; a pull returns as soon as messages are there.
    fetch_timeout_ms: int = Field(default=1000, ge=1)
    # A message neither acked nor nacked (crash mid-insert) comes back after this long.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Delay before a message whose insert failed is redelivered, so an outage of the
    # database does not turn into a hot redelivery loop.
    retry_delay_s: float = Field(default=1.0, ge=0)
    # On shutdown, how long sealing and anchoring the still pending records may take.
    shutdown_flush_s: float = Field(default=5.0, ge=0)

    # Where batch roots go: the local signed hash chain, or a Cosmos chain (docs/cosmos.md).
    anchor: Literal["local", "cosmos"] = "local"
    # cosmpy URL: "rest+http://host:1317" (LCD) or "grpc+http://host:9090".
    cosmos_url: str = "rest+http://127.0.0.1:1317"
    cosmos_chain_id: str = "attesta-anchor"
    cosmos_address_prefix: str = "attesta"
    cosmos_denom: str = "stake"
    cosmos_fee_amount: int = Field(default=0, ge=0)
    # 0: simulate each transaction and add a margin.
    cosmos_gas_limit: int = Field(default=0, ge=0)
    # A CosmWasm contract to call with {"anchor": {...}} instead of the memo self-transfer.
    cosmos_contract: str | None = None
    cosmos_inclusion_timeout_s: float = Field(default=30.0, gt=0)
    cosmos_poll_interval_s: float = Field(default=1.0, gt=0)
    cosmos_retries: int = Field(default=5, ge=0)
    cosmos_backoff_s: float = Field(default=0.5, ge=0)
    # Per LCD request (connect and read); cosmpy itself waits for ever.
    cosmos_request_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def batch_interval_s(self) -> float:
        return self.batch_interval_ms / 1000

    @property
    def fetch_timeout_s(self) -> float:
        return self.fetch_timeout_ms / 1000
