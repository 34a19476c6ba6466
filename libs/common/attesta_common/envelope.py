"""Signed, content-addressed records.

On the wire a record is the canonical JSON of its envelope; its hash (sha256 of those
bytes) is its name, its `Nats-Msg-Id` and its Merkle leaf. The signature covers
everything but itself, so deterministic (RFC 6979) signing makes a re-sent record
byte-identical and JetStream drops the copy.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from attesta_common.canonical import canonical_json, sha256_hex
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

    def signing_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json", exclude={"signature"}))

    def to_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    @cached_property
    def hash(self) -> str:
        return sha256_hex(self.to_bytes())


def sign_event(event: Event, key: SigningKey) -> SignedRecord:
    unsigned = SignedRecord(
        kind=event.KIND,
        version=event.VERSION,
        signer=key.address,
        public_key=key.public_key_hex,
        body=event.model_dump(mode="json"),
        signature="",
    )
    return unsigned.model_copy(update={"signature": key.sign(unsigned.signing_bytes())})


def parse_record(data: bytes) -> SignedRecord:
    """Decode wire bytes; refuse anything that is not the canonical encoding of a record."""
    try:
        record = SignedRecord.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise RecordRejected(f"malformed record: {exc}") from exc
    if record.to_bytes() != data:
        raise RecordRejected("record is not canonically encoded")
    return record


def open_record(record: SignedRecord, genesis: Genesis, *expected: type[E]) -> E:
    """Check signature and signer role, then return the typed event inside."""
    event_type = RECORD_TYPES.get(record.kind)
    if event_type is None or (expected and event_type not in expected):
        raise RecordRejected(f"unexpected record kind {record.kind!r}")
    if record.version > event_type.VERSION:
        raise RecordRejected(f"{record.kind} v{record.version} is newer than this reader")
    if address_of(record.public_key) != record.signer:
        raise RecordRejected("signer address does not match the public key")
    if not verify(record.public_key, record.signing_bytes(), record.signature):
        raise RecordRejected("bad signature")
    if not genesis.has_role(record.signer, event_type.SIGNER_ROLE):
        raise RecordRejected(f"{record.signer} may not sign {record.kind}")
    try:
        return event_type.model_validate(record.body)  # type: ignore[return-value]
    except ValidationError as exc:
        raise RecordRejected(f"invalid {record.kind} body: {exc}") from exc


def read_record(data: bytes, genesis: Genesis, *expected: type[E]) -> tuple[SignedRecord, E]:
    record = parse_record(data)
    return record, open_record(record, genesis, *expected)
