"""Canaries: inferences the network plants with a known-bad result, to catch validators
that approve without checking (docs/verification.md).

A gateway holding a canary key derives one secret per epoch. An inference is a canary
iff the keyed hash of its id under that secret has `MARK_BITS` leading zero bits: the
gateway gives real requests only ids without the mark and canaries only ids with it, so
nobody without the secret can tell them apart. It commits `sha256(secret)` during the
epoch and reveals the secret once the settlement cutoff has passed; the settler then
knows every canary, and no verdict that counts was given knowing it.

A gateway alone cannot pass real work off as a canary (to frame the validators who
approved it): a marked inference counts as a canary only if the executor that ran it
signed a finished record whose `tag` is `spoil_tag(secret, id)`, which only a canary
executor, holding the key, can compute. Every other finished record carries an
`executor_tag`, just as unpredictable to anyone without that executor's key.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

# One id in 256 carries the mark: planting a canary costs ~256 x executors keyed hashes,
# and a real request redraws its id once in 256.
MARK_BITS = 8


def epoch_canary_secret(canary_key: bytes, epoch: int) -> bytes:
    return hmac.digest(canary_key, b"attesta-canary-v1" + epoch.to_bytes(8, "big"), "sha256")


def canary_commitment(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def is_canary(secret: bytes, inference_id: str) -> bool:
    mark = hmac.digest(secret, inference_id.encode(), "sha256")
    return int.from_bytes(mark[:4], "big") >> (32 - MARK_BITS) == 0


def spoil_tag(secret: bytes, inference_id: str) -> str:
    """The tag of the finished record of a canary its executor spoiled (hex, 32 bytes)."""
    return hmac.digest(secret, b"attesta-canary-spoiled-v1" + inference_id.encode(), "sha256").hex()


def executor_tag(tag_key: bytes, request_hash: str) -> str:
    """The tag of any other finished record: keyed by the executor's own secret
    (`SigningKey.derived_secret`), so it looks like a spoil tag to everyone else, and
    fixed per request, so a re-run signs the same bytes (JetStream deduplicates them)."""
    return hmac.digest(tag_key, request_hash.encode(), "sha256").hex()


def load_canary_key(path: Path) -> bytes:
    """The canary key file: hex, at least 32 bytes (like the signing keys, by reference)."""
    try:
        key = bytes.fromhex(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"canary key {path} is not readable hex: {exc}") from exc
    if len(key) < 32:
        raise RuntimeError(f"canary key {path} holds {len(key)} bytes; at least 32 are needed")
    return key
