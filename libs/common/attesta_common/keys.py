"""secp256k1 keys, bech32 addresses and signatures.

Keys and addresses are cosmpy's (so they are the same accounts on a Cosmos chain);
signing and verification go through libsecp256k1 (coincurve), which produces the same
RFC 6979, low-S, 64-byte signatures as cosmpy about 25 times faster.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

import coincurve
from coincurve.ecdsa import cdata_to_der, deserialize_compact
from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PrivateKey, PublicKey

ADDRESS_PREFIX = "attesta"


def _sha256(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


class SigningKey:
    """A participant's private key: signs messages and names the participant."""

    def __init__(self, secret: bytes) -> None:
        self._cosmpy = PrivateKey(secret)
        self._fast = coincurve.PrivateKey(secret)
        self.public_key_hex: str = self._cosmpy.public_key.public_key_bytes.hex()
        self.address: str = address_of(self.public_key_hex)
        self._derived: dict[str, bytes] = {}

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(PrivateKey().private_key_bytes)

    @classmethod
    def from_hex(cls, secret_hex: str) -> SigningKey:
        return cls(bytes.fromhex(secret_hex.strip()))

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        return cls.from_hex(path.read_text(encoding="ascii"))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(self.secret_hex())

    def secret_hex(self) -> str:
        secret: bytes = self._cosmpy.private_key_bytes
        return secret.hex()

    def derived_secret(self, label: str) -> bytes:
        """A secret for one purpose (`label`), derived from this key and useless for signing."""
        # Kept per label: an executor derives its tag secret for every record it signs.
        derived = self._derived.get(label)
        if derived is None:
            secret: bytes = self._cosmpy.private_key_bytes
            derived = self._derived[label] = hmac.digest(secret, label.encode(), "sha256")
        return derived

    @property
    def cosmpy_key(self) -> PrivateKey:
        return self._cosmpy

    def sign(self, message: bytes) -> str:
        """Hex of the 64-byte compact signature over sha256(message)."""
        return self._fast.sign_recoverable(message, hasher=_sha256)[:64].hex()


@lru_cache(maxsize=4096)
def _public_key(public_key_hex: str) -> coincurve.PublicKey:
    return coincurve.PublicKey(bytes.fromhex(public_key_hex))


def verify(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    """True when signature_hex is a valid signature of message by that key."""
    try:
        signature = bytes.fromhex(signature_hex)
        if len(signature) != 64:
            return False
        der = cdata_to_der(deserialize_compact(signature))
        return bool(_public_key(public_key_hex).verify(der, message, hasher=_sha256))
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=4096)
def address_of(public_key_hex: str) -> str:
    return str(Address(PublicKey(bytes.fromhex(public_key_hex)), prefix=ADDRESS_PREFIX))
