"""Checks on what an executor sends back before anyone is charged for it."""

from __future__ import annotations

from typing import Any

from attesta_common.envelope import (
    RecordRejected,
    SignedRecord,
    open_record,
    record_from_json_object,
)
from attesta_common.events import InferenceFinished
from attesta_common.genesis import Genesis


def verify_finished(
    raw: SignedRecord | dict[str, Any] | None,
    genesis: Genesis,
    executor: str,
    request: SignedRecord,
) -> tuple[SignedRecord, InferenceFinished]:
    """The signed `InferenceFinished` of this very request, by the executor drawn for it:
    `raw` read from its own bytes, or as decoded with the `end` event that carried it.

    The signature and role check alone would accept a record from another executor or for
    another request; the charge must follow only the one the draw picked.
    """
    if raw is None:
        raise RecordRejected("end event without a record")
    record = raw if isinstance(raw, SignedRecord) else record_from_json_object(raw)
    finished = open_record(record, genesis, InferenceFinished)
    if record.signer != executor or finished.executor != executor:
        raise RecordRejected(f"record signed by {record.signer}, expected {executor}")
    request_id = request.body.get("inference_id")
    if finished.inference_id != request_id:
        raise RecordRejected(f"record is for {finished.inference_id}, expected {request_id}")
    if finished.request_hash != request.hash:
        raise RecordRejected("record answers another request (request_hash differs)")
    return record, finished
