"""Which inferences a validator must check (DESIGN.md step 5).

p = min(1, target(reputation) * own_weight / (total_validation_weight - executor_weight)),
decided with a uniform number from the validator's committed epoch seed, so a settler can
re-derive later which checks each validator owed.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction

from attesta_common.genesis import Genesis
from attesta_common.roles import Role

MAX_REPUTATION = 100
MIN_TARGET = Fraction(1, 100)


def target_fraction(reputation: int) -> Fraction:
    """1 for a new executor (everything checked) down to 1/100 for a trusted one, exactly:
    the settler's integer arithmetic (slashing) divides by it."""
    reputation = min(max(reputation, 0), MAX_REPUTATION)
    return 1 - (1 - MIN_TARGET) * Fraction(reputation, MAX_REPUTATION)


def target_rate(reputation: int) -> float:
    return float(target_fraction(reputation))


def check_probability(
    reputation: int, own_weight: int, total_validation_weight: int, executor_weight: int
) -> float:
    target = target_rate(reputation)
    if target >= 1.0:
        return 1.0
    others = total_validation_weight - executor_weight
    if others <= 0:
        return 1.0
    return min(1.0, target * own_weight / others)


def decision_uniform(validator_seed: bytes, inference_id: str) -> float:
    digest = hashlib.sha256(b"attesta-check-v1" + validator_seed + inference_id.encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)


def must_check(validator_seed: bytes, inference_id: str, probability: float) -> bool:
    return decision_uniform(validator_seed, inference_id) < probability


def validation_weights(genesis: Genesis, validator: str, executor: str) -> tuple[int, int, int]:
    """(own weight, total validator weight, executor's validator weight) for one decision.

    An executor that also validates cannot check itself, so its weight is not part of the
    validation weight that shares the work.
    """
    total = sum(p.weight for p in genesis.holders(Role.VALIDATOR))
    executor_weight = genesis.weight(executor) if genesis.has_role(executor, Role.VALIDATOR) else 0
    return genesis.weight(validator), total, executor_weight


def check_owed(
    genesis: Genesis,
    *,
    validator: str,
    executor: str,
    reputation: int,
    seed: bytes,
    inference_id: str,
) -> tuple[float, bool]:
    """(probability, owed): the one rule the validator decides with and the settler audits
    with. A validator never owes a check of its own inference."""
    if validator == executor:
        return 0.0, False
    own, total, executor_weight = validation_weights(genesis, validator, executor)
    probability = check_probability(reputation, own, total, executor_weight)
    return probability, must_check(seed, inference_id, probability)
