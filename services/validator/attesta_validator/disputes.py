"""What a validator remembers to answer disputes: a failed verdict by another validator on
an inference this validator did not judge makes it re-check that inference, whatever its
sampling draw said (docs/verification.md, "Disputes").

The finished record is needed to re-check. Records this validator saw but was not drawn
for are kept (a bounded, oldest-first cache); a dispute about a record it has not seen yet
is remembered, and the record is checked when it arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from attesta_validator.admission import Admitted

K = TypeVar("K")
V = TypeVar("V")

# Finished records are tens of kilobytes; a few thousand cover the minutes a dispute
# takes to be raised without holding much memory.
DEFAULT_CAPACITY = 2048


class _Bounded(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items


class DisputeBook:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._judged: _Bounded[str, None] = _Bounded(capacity)
        self._skipped: _Bounded[str, Admitted] = _Bounded(capacity)
        # inference id -> the finished record hash the dispute is about
        self._pending: _Bounded[str, str] = _Bounded(capacity)

    def judged(self, inference_id: str) -> bool:
        """True once this validator published a verdict on the inference (in this run)."""
        return inference_id in self._judged

    def mark_judged(self, inference_id: str) -> None:
        self._judged.put(inference_id, None)
        self._skipped.pop(inference_id)
        self._pending.pop(inference_id)

    def skipped(self, admitted: Admitted) -> None:
        """A record seen but not drawn for a check, kept in case it is disputed."""
        self._skipped.put(admitted.finished.inference_id, admitted)

    def disputed_record(self, inference_id: str, finished_hash: str) -> Admitted | None:
        """The kept record a dispute is about; None (and the dispute remembered) if unseen."""
        admitted = self._skipped.get(inference_id)
        if admitted is not None and admitted.record.hash == finished_hash:
            return admitted
        self._pending.put(inference_id, finished_hash)
        return None

    def is_disputed(self, admitted: Admitted) -> bool:
        return self._pending.get(admitted.finished.inference_id) == admitted.record.hash
