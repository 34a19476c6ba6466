"""Executor settings, read from ATTESTA_* environment variables."""

from __future__ import annotations

from pathlib import Path

from attesta_common.settings import ServiceSettings
from pydantic import Field


class ExecutorSettings(ServiceSettings):
    key_path: Path = Path(".data/keys/executor-0.key")

    # The genesis model this executor serves.
    model: str = "SmolLM2-135M-Instruct"
    # Requests in flight at once. Generations share one engine and run one after another;
    # the others wait their turn holding their message (kept alive by in-progress acks).
    capacity: int = Field(default=4, ge=1)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    torch_threads: int | None = Field(default=None, ge=1)
    model_cache_dir: Path | None = None
    # How often a request in hand tells JetStream it is still being worked on.
    progress_interval_s: float = Field(default=5.0, gt=0)
    # A request neither acked nor marked in progress for this long is redelivered.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Delay before a request whose records could not be published comes back.
    retry_delay_s: float = Field(default=1.0, ge=0)
    # On shutdown, how long in-flight generations may take to finish before they are
    # abandoned (and redelivered); below the launcher's 15 s before SIGKILL.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # Finished records kept to answer a redelivered request without generating again.
    recent_records: int = Field(default=256, ge=1)
