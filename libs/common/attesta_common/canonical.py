"""Canonical encoding and content hashes.

Every signed or anchored value is encoded the same way by every service, so that a hash
computed anywhere names exactly one record. The canonical form is what Python's `json`
writes with sorted keys, no whitespace, UTF-8 and no NaN; it is written here by orjson,
five to ten times faster on a record, wherever orjson writes the same bytes, and by `json`
otherwise. The two differ only in (tests/unit/common/test_canonical.py compares them):
floats under 1e-4 (orjson writes `0.00001` and `1e-7` where json writes `1e-05` and
`1e-07`), NaN and infinities (orjson writes null, json refuses them), integers beyond 64
bits and keys that are not strings (orjson refuses them).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

# What `json.dumps` with these options builds on every call; encoders keep no state
# between calls, so one serves every call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_SORTED = orjson.OPT_SORT_KEYS
# A number under 1e-4 as orjson writes it, as a value (at the start, or after `:`, `,`
# or `[`): a string that merely contains such text only costs the slower encoder.
_SMALL_FLOAT = re.compile(rb"(?:^|[:,\[])-?(?:0\.0000|[0-9]+(?:\.[0-9]+)?e-[0-9](?![0-9]))")


def _json_module(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


def _may_differ(encoded: bytes) -> bool:
    """Whether orjson's encoding may hold a float that json writes otherwise. Such a
    number has `0.0000` or `e-` and one digit; a record has few `.` and `-` (hex, base64
    and addresses have none), found quickly, so the pattern runs on nearly none."""
    find = encoded.find
    at = find(b"-")
    while at >= 0:
        if at > 0 and encoded[at - 1] == 0x65:  # e
            return _SMALL_FLOAT.search(encoded) is not None
        at = find(b"-", at + 1)
    at = find(b".")
    while at >= 0:
        if encoded[at - 1 : at + 5] == b"0.0000":
            return _SMALL_FLOAT.search(encoded) is not None
        at = find(b".", at + 1)
    return False


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: one byte string per value (ValueError
    for NaN and infinities)."""
    try:
        encoded = orjson.dumps(value, option=_SORTED)
    except TypeError:
        return _json_module(value)
    # What reads back as the value itself is plain JSON: NaN and infinities (written
    # null) do not, nor what json refuses and orjson writes (dates, UUIDs, dataclasses).
    if _may_differ(encoded) or orjson.loads(encoded) != value:
        return _json_module(value)
    return encoded


def loads_canonical(data: bytes) -> Any | None:
    """What `json.loads(data)` gives, when `data` is certainly its canonical encoding:
    orjson reads it, writes it back to the same bytes, and no float in it is one orjson
    writes otherwise. None when only `json` can tell (a value orjson reads otherwise, such
    as an integer beyond 64 bits, read as a float, also writes back otherwise)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if _may_differ(data) or orjson.dumps(value, option=_SORTED) != data:
        return None
    return value


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    return sha256_hex(canonical_json(value))
