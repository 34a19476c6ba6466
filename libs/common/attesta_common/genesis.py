"""The genesis document: participants with their keys, roles and weights, the served
models with their verification thresholds, and the economic and epoch parameters.

Every service loads the same file; its content hash seeds the epoch randomness.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from attesta_common.canonical import content_hash
from attesta_common.keys import address_of
from attesta_common.roles import Role


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    public_key: str
    roles: list[Role]
    weight: int = Field(ge=0)


class ModelSpec(BaseModel):
    """A served model and the numbers its verification is calibrated with."""

    model_config = ConfigDict(frozen=True)

    name: str
    dtype: str = "float32"
    top_k: int = Field(default=3, ge=3)
    max_context_tokens: int = 2048
    max_output_tokens: int = 512
    distance_threshold: float = 2e-4
    replay_tolerance: float = 1e-3


class Genesis(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain_id: str = "attesta-local"
    genesis_time_ms: int
    epoch_seconds: float = 60.0
    settle_grace_seconds: float = 10.0
    price_per_token: int = 1
    epoch_reward_pool: int = 1_000_000
    validator_reward_share_percent: int = Field(default=20, ge=0, le=100)
    participants: list[Participant]
    models: list[ModelSpec]

    @classmethod
    def load(cls, path: Path) -> Genesis:
        genesis = cls.model_validate_json(path.read_bytes())
        genesis.check()
        return genesis

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    def check(self) -> None:
        for participant in self.participants:
            if address_of(participant.public_key) != participant.address:
                raise ValueError(f"genesis: address {participant.address} does not match its key")

    @cached_property
    def hash(self) -> str:
        return content_hash(self.model_dump(mode="json"))

    @cached_property
    def _by_address(self) -> dict[str, Participant]:
        return {p.address: p for p in self.participants}

    def participant(self, address: str) -> Participant | None:
        return self._by_address.get(address)

    def has_role(self, address: str, role: Role) -> bool:
        participant = self._by_address.get(address)
        return participant is not None and role in participant.roles

    def holders(self, role: Role) -> list[Participant]:
        return sorted((p for p in self.participants if role in p.roles), key=lambda p: p.address)

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def weight(self, address: str) -> int:
        participant = self._by_address.get(address)
        return participant.weight if participant else 0
