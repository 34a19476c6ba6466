"""Which finished records are admitted as work to validate (no model needed)."""

from __future__ import annotations

import json

import pytest
from attesta_common.envelope import RecordRejected, SignedRecord, sign_event
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_validator.admission import admit_finished
from validator_records import TINY_GENERATION, finished_of, make_finished, make_request

GENERATION = TINY_GENERATION


def _request(keys: DevnetKeys, executor: str | None = None) -> SignedRecord:
    return make_request(
        keys.gateway, executor or keys.executors[0].address, temperature=0.0, top_p=1.0, seed=1
    )


def test_honest_record_is_admitted(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    request = _request(devnet_keys)
    record = make_finished(devnet_keys.executors[0], request, GENERATION)
    admitted = admit_finished(record.to_bytes(), genesis)
    assert admitted.record.hash == record.hash
    assert admitted.request.inference_id == admitted.finished.inference_id == "inf-1"


def test_bad_signature_is_rejected(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    record = make_finished(devnet_keys.executors[0], _request(devnet_keys), GENERATION)
    forged = record.model_copy(update={"signature": "00" * 64})
    with pytest.raises(RecordRejected, match="bad signature"):
        admit_finished(forged.to_bytes(), genesis)


def test_non_executor_signer_is_rejected(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0]
    record = make_finished(validator, _request(devnet_keys, validator.address), GENERATION)
    with pytest.raises(RecordRejected, match="may not sign"):
        admit_finished(record.to_bytes(), genesis)


def test_non_canonical_bytes_are_rejected(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    record = make_finished(devnet_keys.executors[0], _request(devnet_keys), GENERATION)
    with pytest.raises(RecordRejected, match="canonical"):
        admit_finished(json.dumps(json.loads(record.to_bytes()), indent=1).encode(), genesis)


def test_request_for_another_executor_is_rejected(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    request = _request(devnet_keys, devnet_keys.executors[1].address)
    record = make_finished(devnet_keys.executors[0], request, GENERATION)
    with pytest.raises(RecordRejected, match="different executors"):
        admit_finished(record.to_bytes(), genesis)


def test_request_not_from_the_gateway_is_rejected(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    executor = devnet_keys.executors[0]
    request = make_request(executor, executor.address, temperature=0.0, top_p=1.0, seed=1)
    record = make_finished(executor, request, GENERATION)
    with pytest.raises(RecordRejected, match="may not sign InferenceRequested"):
        admit_finished(record.to_bytes(), genesis)


def test_request_hash_must_name_the_request(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    executor = devnet_keys.executors[0]
    finished = finished_of(make_finished(executor, _request(devnet_keys), GENERATION))
    record = sign_event(finished.model_copy(update={"request_hash": "ab" * 32}), executor)
    with pytest.raises(RecordRejected, match="request_hash"):
        admit_finished(record.to_bytes(), genesis)
