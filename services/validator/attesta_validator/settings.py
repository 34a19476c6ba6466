"""Validator settings, read from ATTESTA_* environment variables (built in `main()`)."""

from __future__ import annotations

from pathlib import Path

from attesta_common.settings import ServiceSettings
from pydantic import Field

REFERENCE_MODEL = "SmolLM2-135M-Instruct"


class ValidatorSettings(ServiceSettings):
    key_path: Path = Path(".data/keys/validator.key")

    # The one model this validator checks; finished records for other models are left to
    # validators that serve them.
    model: str = REFERENCE_MODEL
    # Threads torch may use for the teacher-forced pass; unset keeps torch's default.
    torch_threads: int | None = Field(default=None, ge=1)
    # Where the converted model lives; unset falls back to the engine's default
    # (ATTESTA_MODEL_CACHE, else the user cache folder).
    model_cache_dir: Path | None = None
    # Durable consumer on every finished record; unset means `validator-<address>`, so a
    # restarted validator resumes where it stopped.
    consumer_durable: str | None = None
    # A record neither acked nor nacked (crash mid-check) comes back after this long; a
    # longer check keeps it alive with in-progress acks.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # A record whose handling keeps failing (not a failed check: an error) is given up
    # after this many deliveries instead of looping forever.
    max_deliver: int = Field(default=5, ge=1)
    # Delay before a record whose handling failed is redelivered, so a broker outage does
    # not turn into a hot loop.
    retry_delay_s: float = Field(default=2.0, ge=0)
    # How long one pull waits for the next finished record.
    fetch_timeout_s: float = Field(default=5.0, gt=0)
    # How long JetStream may take to acknowledge a published verdict or seed commitment.
    publish_timeout_s: float = Field(default=10.0, gt=0)

    # How often the reveal loop looks for epochs whose seed is due to be revealed.
    reveal_interval_s: float = Field(default=1.0, gt=0)

    def durable_for(self, address: str) -> str:
        return self.consumer_durable or f"validator-{address}"

    def dispute_durable_for(self, address: str) -> str:
        return f"{self.durable_for(address)}-disputes"
