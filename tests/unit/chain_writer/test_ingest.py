"""The chain-writer's record check: `check_wire` must decide exactly as `parse_record`
followed by `verify_record`, with the same reasons."""

from __future__ import annotations

import json

import pytest
from attesta_chain_writer.ingest import check_all, check_record
from attesta_chain_writer.pending import PendingRecord
from attesta_common.canonical import canonical_json
from attesta_common.envelope import (
    RecordRejected,
    SignedRecord,
    parse_record,
    sign_event,
    verify_record,
)
from attesta_common.events import ValidatorSeedCommitted
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_devnet.genesis_builder import DevnetKeys


def _seed(key: SigningKey, epoch: int = 3) -> SignedRecord:
    return sign_event(
        ValidatorSeedCommitted(validator=key.address, epoch=epoch, seed_hash="ab" * 32), key
    )


def _resigned(record: SignedRecord, key: SigningKey, **update: object) -> bytes:
    changed = record.model_copy(update=update)
    return changed.model_copy(update={"signature": key.sign(changed.signing_bytes())}).to_bytes()


def _cases(keys: DevnetKeys) -> dict[str, bytes]:
    validator, executor, stranger = keys.validators[0], keys.executors[0], SigningKey.generate()
    good = _seed(validator)
    wire = good.to_bytes()
    raw = json.loads(wire)
    return {
        "valid": wire,
        "tampered body": wire.replace(b'"epoch":3', b'"epoch":4'),
        "wrong role": _seed(executor).to_bytes(),
        "unknown signer": _seed(stranger).to_bytes(),
        "substituted key": _seed(stranger)
        .model_copy(update={"signer": validator.address})
        .to_bytes(),
        "newer version": _resigned(good, validator, version=2),
        "unknown kind": _resigned(good, validator, kind="NoSuchKind"),
        "not a key": _resigned(good, validator, public_key="zz"),
        "short signature": canonical_json({**raw, "signature": "ab"}),
        "signature not hex": canonical_json({**raw, "signature": "zz" * 64}),
        "version true": canonical_json({**raw, "version": True}),
        "pretty": json.dumps(raw, indent=1).encode(),
        "empty": b"",
        "truncated": wire[:-1],
        "list": b"[]",
        "missing fields": canonical_json({"kind": 1, "version": 1}),
        "not utf-8": b"\xff",
    }


def _reference(genesis: Genesis, data: bytes, seq: int) -> PendingRecord | str:
    try:
        record = parse_record(data)
        verify_record(record, genesis)
    except RecordRejected as exc:
        return str(exc)
    return PendingRecord(record.hash, record.kind, seq, "tp")


def test_check_record_decides_as_parse_and_verify(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    outcomes = {}
    for name, data in _cases(devnet_keys).items():
        outcome = check_record(genesis, data, 7, "tp")
        assert outcome == _reference(genesis, data, 7), name
        outcomes[name] = outcome
    assert isinstance(outcomes.pop("valid"), PendingRecord)
    assert all(isinstance(reason, str) for reason in outcomes.values())


def test_check_all_keeps_order_and_traceparents(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0]
    records = [_seed(validator, epoch) for epoch in range(3)]
    items: list[tuple[bytes, int, str | None]] = [
        (r.to_bytes(), seq, f"tp{seq}") for seq, r in enumerate(records, 1)
    ]
    items.insert(1, (b"{", 9, None))
    results = check_all(genesis, items)
    assert results[1] == _reference(genesis, b"{", 9)
    assert [r for r in results if isinstance(r, PendingRecord)] == [
        PendingRecord(r.hash, r.kind, seq, f"tp{seq}") for seq, r in enumerate(records, 1)
    ]


def test_a_check_that_crashes_is_reported_as_none(
    genesis: Genesis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(data: bytes, genesis: Genesis) -> tuple[str, str]:
        raise RuntimeError("bug")

    monkeypatch.setattr("attesta_chain_writer.ingest.check_wire", boom)
    assert check_all(genesis, [(b"{}", 1, None)]) == [None]
