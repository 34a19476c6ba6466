"""Which inferences this validator checks, decided so that anyone can audit it later.

The validator's seed for epoch e is sha256 of its own (deterministic, RFC 6979) signature
over the epoch seed: unpredictable to others before the validator reveals it, fixed for the
validator, and bound in advance by the hash it commits in `ValidatorSeedCommitted`. The
check decision is then a pure function of (seed, inference id, probability).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from attesta_common.epochs import epoch_end_ms, epoch_seed
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.sampling_policy import check_owed

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
    # The same function the settler re-derives the owed checks with, so the two agree.
    probability, check = check_owed(
        genesis,
        validator=validator,
        executor=executor,
        reputation=reputation,
        seed=seed,
        inference_id=inference_id,
    )
    return CheckDecision(probability, check)


def reveal_at_ms(genesis: Genesis, epoch: int) -> int:
    """When the seed of `epoch` is revealed: half the settler's grace after the epoch ends.

    No check of the epoch is decided any more by then (its decisions are what the seed
    protects), and the settler, which settles at the end of the grace, sees the reveal.
    """
    return epoch_end_ms(genesis, epoch) + int(genesis.settle_grace_seconds * 1000) // 2


class SeedCommitments:
    """The epochs whose seed this validator has committed (once each), and revealed."""

    def __init__(self) -> None:
        self._committed: set[int] = set()
        # Epochs whose seed is to be revealed once they are over; a restarted validator
        # adds the one before its last commitment, in case that reveal never went out.
        self._to_reveal: set[int] = set()

    def needed(self, epoch: int) -> bool:
        return epoch not in self._committed

    def mark(self, epoch: int) -> None:
        self._committed.add(epoch)
        self._to_reveal.add(epoch)
        horizon = max(self._committed) - _COMMIT_MEMORY_EPOCHS
        self._committed = {e for e in self._committed if e >= horizon}
        self._to_reveal = {e for e in self._to_reveal if e >= horizon}

    def expect_reveal(self, epoch: int) -> None:
        """Reveal `epoch` when it is over even if this run did not commit it: a reveal
        repeats byte-identical records, so a second one is harmless."""
        if epoch >= 0:
            self._to_reveal.add(epoch)

    def due_reveals(self, genesis: Genesis, now_ms: int) -> list[int]:
        return sorted(e for e in self._to_reveal if reveal_at_ms(genesis, e) <= now_ms)

    def revealed(self, epoch: int) -> None:
        self._to_reveal.discard(epoch)
