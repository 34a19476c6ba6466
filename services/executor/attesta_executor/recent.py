"""A bounded memory of the records this executor finished recently.

A request redelivered after its record was signed (the ack was lost, or publishing
failed) gets the same record again without a second generation. Regenerating would give
the same bytes too, but costs a full generation.
"""

from __future__ import annotations

from collections import OrderedDict

from attesta_common.envelope import SignedRecord


class RecentRecords:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._records: OrderedDict[str, SignedRecord] = OrderedDict()

    def get(self, request_hash: str) -> SignedRecord | None:
        record = self._records.get(request_hash)
        if record is not None:
            self._records.move_to_end(request_hash)
        return record

    def put(self, request_hash: str, record: SignedRecord) -> None:
        self._records[request_hash] = record
        self._records.move_to_end(request_hash)
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)
