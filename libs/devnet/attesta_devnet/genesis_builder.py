"""Keys and a genesis document for a local network."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from attesta_common.genesis import Genesis, ModelSpec, Participant
from attesta_common.keys import SigningKey
from attesta_common.roles import Role

REFERENCE_MODEL = "SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class DevnetKeys:
    gateway: SigningKey
    executors: list[SigningKey]
    validators: list[SigningKey]
    chain_writer: SigningKey
    settler: SigningKey

    @classmethod
    def generate(cls, executors: int = 2, validators: int = 2) -> DevnetKeys:
        return cls(
            gateway=SigningKey.generate(),
            executors=[SigningKey.generate() for _ in range(executors)],
            validators=[SigningKey.generate() for _ in range(validators)],
            chain_writer=SigningKey.generate(),
            settler=SigningKey.generate(),
        )

    def named(self) -> dict[str, SigningKey]:
        keys = {"gateway": self.gateway, "chain-writer": self.chain_writer, "settler": self.settler}
        keys.update({f"executor-{i}": k for i, k in enumerate(self.executors)})
        keys.update({f"validator-{i}": k for i, k in enumerate(self.validators)})
        return keys

    def save(self, folder: Path) -> dict[str, Path]:
        paths = {}
        for name, key in self.named().items():
            paths[name] = folder / f"{name}.key"
            key.save(paths[name])
        return paths

    @classmethod
    def load(cls, folder: Path) -> DevnetKeys:
        def load(name: str) -> SigningKey:
            return SigningKey.load(folder / f"{name}.key")

        return cls(
            gateway=load("gateway"),
            executors=[SigningKey.load(p) for p in sorted(folder.glob("executor-*.key"))],
            validators=[SigningKey.load(p) for p in sorted(folder.glob("validator-*.key"))],
            chain_writer=load("chain-writer"),
            settler=load("settler"),
        )


def _participant(key: SigningKey, role: Role, weight: int) -> Participant:
    return Participant(
        address=key.address, public_key=key.public_key_hex, roles=[role], weight=weight
    )


def build_genesis(
    keys: DevnetKeys,
    *,
    epoch_seconds: float = 60.0,
    settle_grace_seconds: float = 10.0,
    genesis_time_ms: int | None = None,
) -> Genesis:
    participants = [
        _participant(keys.gateway, Role.GATEWAY, 0),
        _participant(keys.chain_writer, Role.CHAIN_WRITER, 0),
        _participant(keys.settler, Role.SETTLER, 0),
        *(_participant(k, Role.EXECUTOR, 100) for k in keys.executors),
        *(_participant(k, Role.VALIDATOR, 100) for k in keys.validators),
    ]
    return Genesis(
        genesis_time_ms=genesis_time_ms if genesis_time_ms is not None else int(time.time() * 1000),
        epoch_seconds=epoch_seconds,
        settle_grace_seconds=settle_grace_seconds,
        participants=participants,
        models=[ModelSpec(name=REFERENCE_MODEL)],
    )
