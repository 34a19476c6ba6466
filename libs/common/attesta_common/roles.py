"""The roles a participant key can hold; each record kind is accepted from one role."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    GATEWAY = "gateway"
    EXECUTOR = "executor"
    VALIDATOR = "validator"
    CHAIN_WRITER = "chain_writer"
    SETTLER = "settler"
