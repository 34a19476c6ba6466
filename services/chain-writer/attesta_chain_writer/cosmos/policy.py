"""How the Cosmos anchor waits for blocks and retries."""

from __future__ import annotations

from dataclasses import dataclass

from attesta_chain_writer.cosmos.chain_port import ChainUnavailable


class InclusionTimeout(ChainUnavailable):
    """Broadcast, but not in a block in time; the next attempt looks again and resends."""


@dataclass(frozen=True)
class RetryPolicy:
    inclusion_timeout_s: float = 30.0
    poll_interval_s: float = 1.0
    retries: int = 5
    backoff_s: float = 0.5
