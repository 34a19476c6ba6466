"""Which inferences this validator checks, decided so that anyone can audit it later.

The validator's seed for epoch e is sha256 of its own (deterministic, RFC 6979) signature
over the epoch seed: unpredictable to others before the validator reveals it, fixed for the
validator, and bound in advance by the hash it commits in `ValidatorSeedCommitted`. The
check decision is then a pure function of (seed, inference id, probability).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from attesta_common.epochs import epoch_seed
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_common.sampling_policy import check_probability, must_check

SEED_DOMAIN = b"attesta-validator-seed-v1"
# Epochs older than this many behind the newest seen are forgotten by the commitment
# tracker; a record that old arriving late only re-sends a byte-identical commitment.
_COMMIT_MEMORY_EPOCHS = 64


def validator_seed(key: SigningKey, genesis: Genesis, epoch: int) -> bytes:
    signature = key.sign(SEED_DOMAIN + epoch_seed(genesis, epoch))
    return hashlib.sha256(bytes.fromhex(signature)).digest()


def seed_commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


@dataclass(frozen=True)
class CheckDecision:
    probability: float
    check: bool


def decide(
    genesis: Genesis,
    *,
    validator: str,
    executor: str,
    reputation: int,
    seed: bytes,
    inference_id: str,
) -> CheckDecision:
    own_weight = genesis.weight(validator)
    total = sum(p.weight for p in genesis.holders(Role.VALIDATOR))
    # An executor that also validates cannot check itself, so its weight is not part of
    # the validation weight that shares the work.
    executor_weight = genesis.weight(executor) if genesis.has_role(executor, Role.VALIDATOR) else 0
    probability = check_probability(reputation, own_weight, total, executor_weight)
    return CheckDecision(probability, must_check(seed, inference_id, probability))


class SeedCommitments:
    """The epochs whose seed this validator has already committed (once each)."""

    def __init__(self) -> None:
        self._committed: set[int] = set()

    def needed(self, epoch: int) -> bool:
        return epoch not in self._committed

    def mark(self, epoch: int) -> None:
        self._committed.add(epoch)
        horizon = max(self._committed) - _COMMIT_MEMORY_EPOCHS
        self._committed = {e for e in self._committed if e >= horizon}
