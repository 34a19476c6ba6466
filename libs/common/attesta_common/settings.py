"""Settings every service shares, read from the environment (pydantic-settings).

Services subclass `ServiceSettings` and build it in their `main()`, never at import time.
`make run`, docker-compose and the Helm chart set the same variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from attesta_common.event_loop import EventLoopChoice


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATTESTA_", extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("ATTESTA_NATS_URL", "NATS_URL"),
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/attesta",
        validation_alias=AliasChoices("ATTESTA_DATABASE_URL", "DATABASE_URL"),
    )
    genesis_path: Path = Path(".data/genesis.json")
    key_path: Path = Path(".data/keys/service.key")
    log_level: str = "INFO"
    # uvloop where installed (attesta_common.event_loop); "asyncio" for the standard loop.
    event_loop: EventLoopChoice = "auto"
    # /health/live, /health/ready and /metrics for services without their own web app;
    # no port, no server (the gateway serves them on its API port).
    ops_host: str = "127.0.0.1"
    ops_port: int | None = None
