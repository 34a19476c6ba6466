"""Canary secrets and marks: per epoch, keyed, rare, and only readable with the secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from attesta_common.canary import (
    MARK_BITS,
    canary_commitment,
    epoch_canary_secret,
    is_canary,
    load_canary_key,
)


def test_secrets_differ_per_epoch_and_key_and_the_commitment_binds_them() -> None:
    key, other = b"k" * 32, b"o" * 32
    assert epoch_canary_secret(key, 1) == epoch_canary_secret(key, 1)
    assert epoch_canary_secret(key, 1) != epoch_canary_secret(key, 2)
    assert epoch_canary_secret(key, 1) != epoch_canary_secret(other, 1)
    assert canary_commitment(epoch_canary_secret(key, 1)) != canary_commitment(
        epoch_canary_secret(key, 2)
    )


def test_about_one_id_in_two_hundred_fifty_six_is_marked_and_the_mark_depends_on_the_secret() -> (
    None
):
    ids = [f"chatcmpl-{i}" for i in range(40_000)]
    one, two = epoch_canary_secret(b"k" * 32, 1), epoch_canary_secret(b"k" * 32, 2)
    marked_one = {i for i in ids if is_canary(one, i)}
    marked_two = {i for i in ids if is_canary(two, i)}
    expected = len(ids) / 2**MARK_BITS
    assert 0.7 * expected < len(marked_one) < 1.3 * expected
    # Independent under another secret: the overlap is what chance gives (~0.6 ids).
    assert len(marked_one & marked_two) <= 5


def test_canary_key_files_must_be_long_hex(tmp_path: Path) -> None:
    good = tmp_path / "canary.key"
    good.write_text(secrets.token_hex(32) + "\n")
    assert len(load_canary_key(good)) == 32
    short = tmp_path / "short.key"
    short.write_text("abcd")
    with pytest.raises(RuntimeError, match="at least 32"):
        load_canary_key(short)
    bad = tmp_path / "bad.key"
    bad.write_text("not hex")
    with pytest.raises(RuntimeError, match="not readable hex"):
        load_canary_key(bad)
    with pytest.raises(RuntimeError):
        load_canary_key(tmp_path / "missing.key")
