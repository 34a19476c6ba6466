"""Signed, content-addressed records.

On the wire a record is the canonical JSON of its envelope; its hash (sha256 of those
bytes) is its name, its `Nats-Msg-Id` and its Merkle leaf. The signature covers
everything but itself, so deterministic (RFC 6979) signing makes a re-sent record
byte-identical and JetStream drops the copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from attesta_common.canonical import canonical_json, loads_canonical, sha256_hex
from attesta_common.events import RECORD_TYPES, Event
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey, address_of, verify

E = TypeVar("E", bound=Event)


class RecordRejected(ValueError):
    """A record that must not be acted on: malformed, unsigned, forged or from the wrong role."""


class SignedRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    version: int
    signer: str
    public_key: str
    body: dict[str, Any]
    signature: str

    # Set by parse_record: the bytes this record arrived as, so that the hot path never
    # re-serialises what it has just checked to be canonical.
    _wire: bytes | None = PrivateAttr(default=None)

    @classmethod
    def from_checked(cls, fields: Mapping[str, Any], wire: bytes) -> SignedRecord:
        """The record of `fields` (every field, each of its declared type) that arrived as
        or was encoded to `wire`, built without validation: what `model_construct` and
        setting `_wire` give, at a fifth of the cost (it also looks for defaults and
        aliases that a record does not have). Records are built once per message on
        every service's hot path."""
        record = cls.__new__(cls)
        _set = object.__setattr__
        # In the declared order, as model_construct has it (model_dump follows it).
        _set(record, "__dict__", {name: fields[name] for name in _FIELD_ORDER})
        _set(record, "__pydantic_fields_set__", set(_FIELD_ORDER))
        _set(record, "__pydantic_extra__", None)
        _set(record, "__pydantic_private__", {"_wire": wire})
        return record

    def _known_wire(self) -> bytes | None:
        # Read from the dict pydantic keeps private attributes in: `self._wire` goes
        # through BaseModel.__getattr__ (1.5 us against 0.06), several times per record.
        private = self.__pydantic_private__
        return None if private is None else private["_wire"]

    def signing_bytes(self) -> bytes:
        wire = self._known_wire()
        if wire is not None:
            return _without_signature(wire, self.signature)
        return canonical_json(self.model_dump(mode="json", exclude={"signature"}))

    def to_bytes(self) -> bytes:
        wire = self._known_wire()
        if wire is not None:
            return wire
        return canonical_json(self.model_dump(mode="json"))

    @cached_property
    def hash(self) -> str:
        return sha256_hex(self.to_bytes())

    def __eq__(self, other: object) -> bool:
        # Content addressed: equal bytes are the same record, however it was obtained.
        return isinstance(other, SignedRecord) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.hash)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        if update:
            # A changed record is other bytes: forget the wire form and the cached hash.
            copy._wire = None
            copy.__dict__.pop("hash", None)
        return copy


_FIELD_ORDER = tuple(SignedRecord.model_fields)
_FIELD_TYPES: dict[str, type] = {
    "body": dict,
    "kind": str,
    "public_key": str,
    "signature": str,
    "signer": str,
    "version": int,
}


def _without_signature(wire: bytes, signature: str) -> bytes:
    """The canonical encoding minus its signature field.

    Keys are sorted, so the field sits between `public_key` and `signer` as
    `,"signature":"<hex>"`; cutting it out gives exactly the canonical JSON of the
    unsigned record. It is searched from the end: only `body`, which comes first, could
    hold a look-alike.
    """
    field = b',"signature":' + json.dumps(signature).encode()
    at = wire.rfind(field)
    if at < 0:  # pragma: no cover - parse_record only keeps canonical bytes
        raise RecordRejected("record has no signature field")
    return wire[:at] + wire[at + len(field) :]


def _with_signature(unsigned: bytes, signer: str, version: int, signature: str) -> bytes:
    """The canonical encoding of the signed record, from that of the unsigned one.

    Keys are sorted, so the unsigned encoding ends `,"signer":<address>,"version":<n>}`
    and the signature goes just before that suffix (the inverse of `_without_signature`).
    """
    suffix = b',"signer":' + json.dumps(signer).encode() + b',"version":' + str(version).encode()
    suffix += b"}"
    if not unsigned.endswith(suffix):  # pragma: no cover - canonical_json sorts the keys
        raise ValueError("unexpected canonical encoding of an unsigned record")
    field = b',"signature":' + json.dumps(signature).encode()
    return unsigned[: -len(suffix)] + field + suffix


def sign_event(event: Event, key: SigningKey) -> SignedRecord:
    """Sign an event; the record's body and bytes are encoded once (records such as an
    `InferenceFinished` carry a whole request and an artifact)."""
    fields: dict[str, Any] = {
        "body": event.model_dump(mode="json"),
        "kind": event.KIND,
        "public_key": key.public_key_hex,
        "signer": key.address,
        "version": event.VERSION,
    }
    unsigned = canonical_json(fields)
    signature = key.sign(unsigned)
    wire = _with_signature(unsigned, key.address, event.VERSION, signature)
    return SignedRecord.from_checked({**fields, "signature": signature}, wire)


def _check_fields(raw: Any) -> None:
    if not isinstance(raw, dict) or raw.keys() != _FIELD_TYPES.keys():
        raise RecordRejected("malformed record: not an envelope")
    for name, expected in _FIELD_TYPES.items():
        # `type(...) is`, not isinstance: a JSON true must not pass as version 1.
        if type(raw[name]) is not expected:
            raise RecordRejected(f"malformed record: {name} is not a {expected.__name__}")


def _canonical_envelope(raw: Any) -> bytes:
    """The canonical encoding of a decoded envelope, once its fields' types are right."""
    _check_fields(raw)
    try:
        return canonical_json(raw)
    except ValueError as exc:
        raise RecordRejected(f"malformed record: {exc}") from exc


def _checked_envelope(data: bytes) -> dict[str, Any]:
    """The decoded envelope, once its fields' types and its encoding are canonical."""
    raw = loads_canonical(data)
    if raw is not None:
        _check_fields(raw)
        return raw  # type: ignore[no-any-return]
    # Not certainly canonical: json decides (and names the fault).
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise RecordRejected(f"malformed record: {exc}") from exc
    if _canonical_envelope(raw) != data:
        raise RecordRejected("record is not canonically encoded")
    return raw  # type: ignore[no-any-return]


def parse_record(data: bytes) -> SignedRecord:
    """Decode wire bytes; refuse anything that is not the canonical encoding of a record."""
    raw = _checked_envelope(data)
    # Every field was type-checked above; validating again would only cost time.
    return SignedRecord.from_checked(raw, data)


def record_from_json_object(raw: Any) -> SignedRecord:
    """A record someone already decoded from JSON (an `end` event carries one inside its
    own JSON): the checks of `parse_record`, encoding it once instead of re-serialising a
    model and parsing the result again."""
    return SignedRecord.from_checked(raw, _canonical_envelope(raw))


def _verify_fields(
    kind: str,
    version: int,
    signer: str,
    public_key: str,
    signature: str,
    signing_bytes: Callable[[], bytes],
    genesis: Genesis,
    expected: tuple[type[Event], ...],
) -> type[Event]:
    event_type = RECORD_TYPES.get(kind)
    if event_type is None or (expected and event_type not in expected):
        raise RecordRejected(f"unexpected record kind {kind!r}")
    if version > event_type.VERSION:
        raise RecordRejected(f"{kind} v{version} is newer than this reader")
    try:
        address = address_of(public_key)
    except ValueError as exc:
        raise RecordRejected("public key is not a secp256k1 key") from exc
    if address != signer:
        raise RecordRejected("signer address does not match the public key")
    if not verify(public_key, signing_bytes(), signature):
        raise RecordRejected("bad signature")
    if not genesis.has_role(signer, event_type.SIGNER_ROLE):
        raise RecordRejected(f"{signer} may not sign {kind}")
    return event_type


def verify_record(record: SignedRecord, genesis: Genesis, *expected: type[Event]) -> type[Event]:
    """Check kind, version, signature and signer role without reading the body.

    Enough for a consumer that only stores or anchors the record (the chain-writer).
    """
    return _verify_fields(
        record.kind,
        record.version,
        record.signer,
        record.public_key,
        record.signature,
        record.signing_bytes,
        genesis,
        expected,
    )


def check_wire(data: bytes, genesis: Genesis, *expected: type[Event]) -> tuple[str, str]:
    """`parse_record` then `verify_record` (the same checks, the same errors) without
    building the record: the kind and hash of a valid record. For consumers that only
    store or anchor records, many per second (the chain-writer)."""
    raw = _checked_envelope(data)
    kind: str = raw["kind"]
    signature: str = raw["signature"]
    _verify_fields(
        kind,
        raw["version"],
        raw["signer"],
        raw["public_key"],
        signature,
        lambda: _without_signature(data, signature),
        genesis,
        expected,
    )
    return kind, sha256_hex(data)


def open_record(record: SignedRecord, genesis: Genesis, *expected: type[E]) -> E:
    """Check signature and signer role, then return the typed event inside."""
    event_type = verify_record(record, genesis, *expected)
    try:
        return event_type.model_validate(record.body)  # type: ignore[return-value]
    except ValidationError as exc:
        raise RecordRejected(f"invalid {record.kind} body: {exc}") from exc


def read_record(data: bytes, genesis: Genesis, *expected: type[E]) -> tuple[SignedRecord, E]:
    record = parse_record(data)
    return record, open_record(record, genesis, *expected)
