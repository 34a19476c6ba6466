"""The bounded memory of finished records."""

from __future__ import annotations

import pytest
from attesta_common.envelope import SignedRecord
from attesta_executor.recent import RecentRecords


def record(n: int) -> SignedRecord:
    return SignedRecord(
        kind="InferenceFinished", version=1, signer="s", public_key="p", body={"n": n}, signature=""
    )


def test_keeps_the_most_recently_used() -> None:
    recent = RecentRecords(2)
    recent.put("a", record(1))
    recent.put("b", record(2))
    assert recent.get("a") == record(1)  # now the freshest
    recent.put("c", record(3))
    assert recent.get("b") is None
    assert recent.get("a") == record(1) and recent.get("c") == record(3)
    assert len(recent) == 2


def test_needs_room_for_one() -> None:
    with pytest.raises(ValueError):
        RecentRecords(0)
