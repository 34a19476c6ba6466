"""Canonical encoding and content hashes.

Every signed or anchored value is encoded the same way by every service, so that a hash
computed anywhere names exactly one record.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# What `json.dumps` with these options builds on every call; encoders keep no state
# between calls, so one serves every call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: one byte string per value."""
    return _ENCODER.encode(value).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    return sha256_hex(canonical_json(value))
