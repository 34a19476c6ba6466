"""Keys: coincurve signatures are cosmpy's, addresses are bech32 `attesta1...`."""

from __future__ import annotations

from pathlib import Path

from attesta_common.keys import SigningKey, address_of, verify
from cosmpy.crypto.keypairs import PrivateKey


def test_signatures_are_byte_identical_to_cosmpy() -> None:
    for message in (b"", b"attesta", bytes(range(256))):
        cosmpy_key = PrivateKey()
        ours = SigningKey(cosmpy_key.private_key_bytes)
        assert ours.sign(message) == cosmpy_key.sign(message).hex()
        assert cosmpy_key.public_key.verify(message, bytes.fromhex(ours.sign(message)))


def test_verify_accepts_only_the_signed_message_and_key() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    signature = key.sign(b"pay 10")
    assert verify(key.public_key_hex, b"pay 10", signature)
    assert not verify(key.public_key_hex, b"pay 11", signature)
    assert not verify(other.public_key_hex, b"pay 10", signature)
    assert not verify(key.public_key_hex, b"pay 10", "00" * 64)
    assert not verify(key.public_key_hex, b"pay 10", "zz")


def test_address_is_bech32_with_attesta_prefix(tmp_path: Path) -> None:
    key = SigningKey.generate()
    assert key.address.startswith("attesta1")
    assert address_of(key.public_key_hex) == key.address
    key.save(tmp_path / "k.key")
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    assert SigningKey.load(tmp_path / "k.key").address == key.address
