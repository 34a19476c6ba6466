"""Signed records: round trip, content address, and every way a record is refused."""

from __future__ import annotations

import json

import pytest
from attesta_common.canonical import canonical_json, sha256_hex
from attesta_common.envelope import (
    RecordRejected,
    SignedRecord,
    open_record,
    parse_record,
    read_record,
    record_from_json_object,
    sign_event,
)
from attesta_common.events import ValidatorSeedCommitted
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_devnet.genesis_builder import DevnetKeys
from pydantic import ValidationError


def _commit(key: SigningKey, epoch: int = 3) -> ValidatorSeedCommitted:
    return ValidatorSeedCommitted(validator=key.address, epoch=epoch, seed_hash="ab" * 32)


def test_round_trip_and_content_address(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0]
    record = sign_event(_commit(validator), validator)
    wire = record.to_bytes()
    assert record.hash == sha256_hex(wire)
    parsed, event = read_record(wire, genesis, ValidatorSeedCommitted)
    assert parsed == record and event.epoch == 3
    # Deterministic signatures: signing again gives the same bytes, so redelivery dedups.
    assert sign_event(_commit(validator), validator).to_bytes() == wire


def test_tampered_body_is_refused(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0]
    wire = sign_event(_commit(validator), validator).to_bytes()
    with pytest.raises(RecordRejected, match="bad signature"):
        read_record(wire.replace(b'"epoch":3', b'"epoch":4'), genesis)


def test_wrong_role_is_refused(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    executor = devnet_keys.executors[0]
    wire = sign_event(_commit(executor), executor).to_bytes()
    with pytest.raises(RecordRejected, match="may not sign"):
        read_record(wire, genesis)


def test_unknown_signer_is_refused(genesis: Genesis) -> None:
    stranger = SigningKey.generate()
    with pytest.raises(RecordRejected, match="may not sign"):
        read_record(sign_event(_commit(stranger), stranger).to_bytes(), genesis)


def test_substituted_public_key_is_refused(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator, stranger = devnet_keys.validators[0], SigningKey.generate()
    record = sign_event(_commit(stranger), stranger)
    forged = record.model_copy(update={"signer": validator.address})
    with pytest.raises(RecordRejected, match="does not match"):
        read_record(forged.to_bytes(), genesis)


@pytest.mark.parametrize(
    "wire",
    [b"", b"{", b"[]", b'{"kind":"x"}', canonical_json({"kind": 1, "version": 1})],
)
def test_malformed_bytes_are_refused(wire: bytes, genesis: Genesis) -> None:
    with pytest.raises(RecordRejected):
        read_record(wire, genesis)


def test_non_canonical_encoding_is_refused(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0]
    record = sign_event(_commit(validator), validator)
    pretty = json.dumps(record.model_dump(mode="json"), indent=1).encode()
    with pytest.raises(RecordRejected, match="canonical"):
        read_record(pretty, genesis)


def test_newer_version_and_unexpected_kind_are_refused(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    validator = devnet_keys.validators[0]
    record = sign_event(_commit(validator), validator)
    newer = record.model_copy(update={"version": 2})
    resigned = newer.model_copy(update={"signature": validator.sign(newer.signing_bytes())})
    with pytest.raises(RecordRejected, match="newer"):
        read_record(resigned.to_bytes(), genesis)
    from attesta_common.events import EpochSettled

    with pytest.raises(RecordRejected, match="unexpected"):
        read_record(record.to_bytes(), genesis, EpochSettled)


def test_record_from_a_decoded_object(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0]
    record = sign_event(_commit(validator), validator)
    raw = json.loads(record.to_bytes())
    again = record_from_json_object(raw)
    assert again.to_bytes() == record.to_bytes() and again.hash == record.hash
    assert open_record(again, genesis, ValidatorSeedCommitted).epoch == 3
    tampered = raw | {"body": raw["body"] | {"epoch": 4}}
    with pytest.raises(RecordRejected, match="bad signature"):
        open_record(record_from_json_object(tampered), genesis)
    for bad in ([raw], raw | {"version": True}, {k: v for k, v in raw.items() if k != "kind"}):
        with pytest.raises(RecordRejected, match="malformed record"):
            record_from_json_object(bad)
    with pytest.raises(RecordRejected, match="malformed record"):
        record_from_json_object(raw | {"body": {"x": float("nan")}})


def test_signed_bytes_are_the_canonical_encoding_of_the_record(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    """sign_event splices the signature into the unsigned encoding instead of encoding the
    record again: the result must be exactly what encoding the whole record gives, even
    when the body holds text that looks like the envelope's own fields."""
    validator = devnet_keys.validators[0]
    tricky = ',"signer":"x","version":1},"signature":"00" \u00e9\u6f22 \\"'
    for seed_hash in ("ab" * 32, tricky):
        event = ValidatorSeedCommitted(validator=validator.address, epoch=7, seed_hash=seed_hash)
        record = sign_event(event, validator)
        fields = {
            "body": event.model_dump(mode="json"),
            "kind": record.kind,
            "public_key": validator.public_key_hex,
            "signature": record.signature,
            "signer": validator.address,
            "version": record.version,
        }
        assert record.to_bytes() == canonical_json(fields)
        assert record.signing_bytes() == canonical_json(
            {k: v for k, v in fields.items() if k != "signature"}
        )
        parsed, opened = read_record(record.to_bytes(), genesis, ValidatorSeedCommitted)
        assert parsed == record and opened.seed_hash == seed_hash


def test_records_are_built_as_model_construct_builds_them(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    """`SignedRecord.from_checked` skips model_construct's work; what it builds must not be
    told apart from model_construct's record (signed, parsed, or from a decoded object)."""
    validator = devnet_keys.validators[0]
    signed = sign_event(_commit(validator), validator)
    wire = signed.to_bytes()
    raw = json.loads(wire)
    for record in (signed, parse_record(wire), record_from_json_object(raw)):
        expected = SignedRecord.model_construct(**dict(record.__dict__))
        expected._wire = wire
        assert record.__dict__ == expected.__dict__
        assert list(record.__dict__) == list(expected.__dict__)  # model_dump's order
        assert record.model_fields_set == expected.model_fields_set
        assert record.__pydantic_private__ == expected.__pydantic_private__
        assert record.__pydantic_extra__ == expected.__pydantic_extra__
        assert repr(record) == repr(expected)
        assert record.model_dump_json() == expected.model_dump_json()
        assert record.hash == expected.hash and record.signing_bytes() == expected.signing_bytes()
        assert SignedRecord.model_validate(record.model_dump()).to_bytes() == wire
        with pytest.raises(ValidationError):
            record.kind = "other"  # type: ignore[misc]
        changed = record.model_copy(update={"version": 9})
        assert changed.version == 9 and record.version == expected.version
        assert changed.to_bytes() != wire
    assert record_from_json_object(raw).__dict__ is not raw  # the caller's dict is not kept
