"""Executor reputation as of the latest settled epoch.

The settler publishes each participant's reputation in `EpochSettled`; the validator keeps
the newest settlement it has seen. An executor it does not list has reputation 0, which
means every one of its inferences is checked.
"""

from __future__ import annotations

from attesta_common.events import EpochSettled


class ReputationBook:
    def __init__(self) -> None:
        self._epoch: int | None = None
        self._scores: dict[str, int] = {}

    @property
    def epoch(self) -> int | None:
        """The settled epoch the reputations come from (None before any settlement)."""
        return self._epoch

    def apply(self, settled: EpochSettled) -> bool:
        """Take a settlement if it is newer than the one held; True when it was taken."""
        if self._epoch is not None and settled.epoch <= self._epoch:
            return False
        self._epoch = settled.epoch
        self._scores = {p.address: p.reputation for p in settled.participants}
        return True

    def reputation(self, address: str) -> int:
        return self._scores.get(address, 0)
