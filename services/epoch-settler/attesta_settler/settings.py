"""Settler settings, read from the environment (ATTESTA_* variables)."""

from __future__ import annotations

from attesta_common.settings import ServiceSettings
from pydantic import Field


class SettlerSettings(ServiceSettings):
    # The name under which the projection position is stored; two settlers with different
    # names would each project (and settle) the whole stream, so keep the default.
    consumer: str = "settler"
    scheduler_interval_s: float = Field(default=1.0, gt=0)
    # How long past an epoch's due time to wait for the canary reveals of gateways that
    # committed to one (they reveal a couple of seconds after the cutoff).
    canary_reveal_wait_s: float = Field(default=30.0, ge=0)
