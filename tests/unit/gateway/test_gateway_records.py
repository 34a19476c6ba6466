"""Heartbeat registry and finished-record verification, without any infrastructure."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from attesta_common.canonical import canonical_json
from attesta_common.envelope import RecordRejected, SignedRecord, sign_event
from attesta_common.events import (
    ExecutorHeartbeat,
    InferenceFinished,
    InferenceRequested,
    Receipt,
    SamplingParams,
    Usage,
)
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.stream import StreamEvent, splice_record
from attesta_common.subjects import STREAM_PREFIX_FEATURE
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_gateway.collection import _spliced_event
from attesta_gateway.executors import ExecutorRegistry
from attesta_gateway.verification import verify_finished


def _beat(key: SigningKey, model: str, **fields: object) -> bytes:
    body = {
        "executor": key.address,
        "models": [model],
        "capacity": 1,
        "in_flight": 0,
        "sent_at_ms": int(time.time() * 1000),
        **fields,
    }
    return sign_event(ExecutorHeartbeat.model_validate(body), key).to_bytes()


def _registry(genesis: Genesis) -> tuple[ExecutorRegistry, str]:
    """A registry of live executors, and the genesis's first model."""
    return ExecutorRegistry(genesis, ttl_s=3.0, max_skew_s=30.0), genesis.models[0].name


def test_registry_accepts_only_genuine_executor_heartbeats(
    genesis: Genesis, devnet_keys: DevnetKeys
) -> None:
    registry, model = _registry(genesis)
    first, second = devnet_keys.executors
    tampered = json.loads(_beat(first, model))
    tampered["body"]["capacity"] = 9
    now = int(time.time() * 1000)
    rejected = [
        json.dumps(tampered, sort_keys=True, separators=(",", ":")).encode(),
        _beat(devnet_keys.validators[0], model),
        _beat(devnet_keys.gateway, model),
        _beat(first, model, executor=second.address),
        _beat(first, model, sent_at_ms=now - 60_000),
        b"{}",
    ]
    assert [registry.handle(data) for data in rejected] == [None] * len(rejected)
    assert registry.live() == []

    assert registry.handle(_beat(first, model, sent_at_ms=now)) is not None
    assert registry.handle(_beat(first, model, sent_at_ms=now - 1000)) is None  # replayed
    assert registry.handle(_beat(second, "other-model")) is not None
    assert registry.candidates(model) == [(first.address, 100)]
    assert registry.served_models() == [model]  # "other-model" is not in genesis
    assert [s.address for s in registry.live()] == sorted([first.address, second.address])


def test_registry_forgets_silent_executors(
    genesis: Genesis, devnet_keys: DevnetKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, model = _registry(genesis)
    registry.handle(_beat(devnet_keys.executors[0], model))
    later = time.monotonic() + 3.5
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert registry.candidates(model) == []


def test_registry_knows_what_each_executor_announced_last(
    genesis: Genesis, devnet_keys: DevnetKeys
) -> None:
    registry, model = _registry(genesis)
    first, second = devnet_keys.executors
    now = int(time.time() * 1000)
    registry.handle(_beat(first, model, sent_at_ms=now - 10, features=[STREAM_PREFIX_FEATURE]))
    registry.handle(_beat(second, model))
    assert registry.supports(first.address, STREAM_PREFIX_FEATURE)
    assert not registry.supports(second.address, STREAM_PREFIX_FEATURE)
    assert not registry.supports("unknown", STREAM_PREFIX_FEATURE)
    # An older version restarted under the same address announces nothing.
    registry.handle(_beat(first, model, sent_at_ms=now))
    assert not registry.supports(first.address, STREAM_PREFIX_FEATURE)


def _request(genesis: Genesis, keys: DevnetKeys) -> SignedRecord:
    body = InferenceRequested(
        inference_id="chatcmpl-1",
        endpoint="chat",
        epoch=0,
        model=genesis.models[0].name,
        prompt="p",
        sampling=SamplingParams(seed=1),
        account="acct",
        executor=keys.executors[0].address,
        reserved=10,
        requested_at_ms=1,
        deadline_ms=2,
    )
    return sign_event(body, keys.gateway)


def _finished(key: SigningKey, request: SignedRecord, **fields: object) -> dict[str, Any]:
    receipt = Receipt(
        inference_id="chatcmpl-1",
        executor=key.address,
        model="m",
        prompt_hash="a",
        sampling_hash="b",
        seed=1,
        output_hash="c",
        artifact_hash="d",
        prompt_tokens=1,
        completion_tokens=1,
        public_key=key.public_key_hex,
    )
    body = {
        "inference_id": "chatcmpl-1",
        "epoch": 0,
        "executor": key.address,
        "request_hash": request.hash,
        "request": request.model_dump(mode="json"),
        "prompt_token_ids": [1],
        "output_token_ids": [2],
        "text": "x",
        "finish_reason": "stop",
        "usage": Usage(prompt_tokens=1, completion_tokens=1),
        "artifact": "",
        "receipt": receipt,
        **fields,
    }
    return sign_event(InferenceFinished.model_validate(body), key).model_dump(mode="json")


def test_finished_record_must_come_from_the_drawn_executor_for_this_request(
    genesis: Genesis, devnet_keys: DevnetKeys
) -> None:
    drawn, other = devnet_keys.executors
    request = _request(genesis, devnet_keys)
    record, finished = verify_finished(_finished(drawn, request), genesis, drawn.address, request)
    assert finished.inference_id == "chatcmpl-1" and record.signer == drawn.address

    tampered = _finished(drawn, request)
    tampered["body"]["text"] = "y"
    bad = [
        None,
        {"kind": "x"},
        tampered,
        _finished(other, request),
        _finished(drawn, request, inference_id="chatcmpl-2"),
        _finished(drawn, request, request_hash="0" * 64),
        _finished(devnet_keys.validators[0], request),
    ]
    for raw in bad:
        with pytest.raises(RecordRejected):
            verify_finished(raw, genesis, drawn.address, request)


def _end_message(record: dict[str, Any] | bytes, *, spliced: bool) -> bytes:
    head = StreamEvent(type="end", inference_id="chatcmpl-1", stored=False)
    if spliced:
        assert isinstance(record, bytes)
        return splice_record(head.model_dump_json(exclude={"record"}).encode(), record)
    assert isinstance(record, dict)
    return head.model_copy(update={"record": record}).model_dump_json().encode()


def test_a_spliced_end_is_read_with_its_record_from_its_own_bytes(
    genesis: Genesis, devnet_keys: DevnetKeys
) -> None:
    drawn = devnet_keys.executors[0]
    request = _request(genesis, devnet_keys)
    raw = _finished(drawn, request)
    wire = canonical_json(raw)

    received = _spliced_event(_end_message(wire, spliced=True))
    assert received is not None
    event, record = received
    assert event.type == "end" and event.stored is False and event.record is None
    assert isinstance(record, SignedRecord) and record.to_bytes() == wire
    checked, _ = verify_finished(record, genesis, drawn.address, request)
    assert checked == verify_finished(raw, genesis, drawn.address, request)[0]

    # Not spliced, or a record that is not one (not canonical, not an envelope): read whole,
    # where the record is checked as before.
    not_canonical = json.dumps(raw, sort_keys=True).encode()
    envelope_missing = canonical_json({"body": raw["body"]})
    assert _spliced_event(_end_message(raw, spliced=False)) is None
    assert _spliced_event(_end_message(not_canonical, spliced=True)) is None
    assert _spliced_event(_end_message(envelope_missing, spliced=True)) is None
