"""Which finished records are work to validate at all.

A finished record must be signed by an executor and carry the gateway-signed request it
answers, addressed to that same executor. Anything else is not a claim of work by anyone
and gets no verdict: it is rejected, logged, acked and never acted on.
"""

from __future__ import annotations

from dataclasses import dataclass

from attesta_common.envelope import RecordRejected, SignedRecord, open_record, read_record
from attesta_common.events import InferenceFinished, InferenceRequested
from attesta_common.genesis import Genesis
from pydantic import ValidationError


@dataclass(frozen=True)
class Admitted:
    record: SignedRecord
    finished: InferenceFinished
    request: InferenceRequested


def admit_finished(raw: bytes, genesis: Genesis) -> Admitted:
    """Open a finished record and the request inside it; RecordRejected if either is unfit."""
    record, finished = read_record(raw, genesis, InferenceFinished)
    try:
        request_record = SignedRecord.model_validate(finished.request)
    except ValidationError as exc:
        raise RecordRejected(f"embedded request is not a record: {exc}") from exc
    request = open_record(request_record, genesis, InferenceRequested)
    if request_record.hash != finished.request_hash:
        raise RecordRejected("request_hash does not name the embedded request")
    if not (request.executor == finished.executor == record.signer):
        raise RecordRejected("request, finished record and signer name different executors")
    if request.inference_id != finished.inference_id:
        raise RecordRejected("finished record answers another inference")
    if request.epoch != finished.epoch:
        raise RecordRejected("finished record is not in the request's epoch")
    return Admitted(record, finished, request)
