"""Executor reputation as fixed by settled epochs.

The settler publishes each participant's reputation in `EpochSettled`; the validator keeps
the few newest settlements it has seen. An inference of epoch e is decided with the newest
settlement of an epoch before e (`reputation_for`), which is what the settler audits the
owed checks against (docs/verification.md). An executor a settlement does not list, or an
epoch for which no earlier settlement is held, has reputation 0: everything is checked,
which can only over-fulfil the owed checks.
"""

from __future__ import annotations

from attesta_common.events import EpochSettled

# Settlements kept; a backlog older than this is decided with reputation 0 (check all).
_HISTORY = 8


class ReputationBook:
    def __init__(self) -> None:
        self._history: dict[int, dict[str, int]] = {}

    @property
    def epoch(self) -> int | None:
        """The newest settled epoch held (None before any settlement)."""
        return max(self._history) if self._history else None

    def apply(self, settled: EpochSettled) -> bool:
        """Keep a settlement; True when it is newer than every one held."""
        newest = self.epoch
        if settled.epoch in self._history:
            return False
        self._history[settled.epoch] = {p.address: p.reputation for p in settled.participants}
        for old in sorted(self._history)[:-_HISTORY]:
            del self._history[old]
        return newest is None or settled.epoch > newest

    def reputation(self, address: str) -> int:
        """As of the newest settlement held."""
        newest = self.epoch
        return 0 if newest is None else self._history[newest].get(address, 0)

    def reputation_for(self, address: str, epoch: int) -> int:
        """As of the newest held settlement of an epoch before `epoch`."""
        before = [e for e in self._history if e < epoch]
        return self._history[max(before)].get(address, 0) if before else 0
