"""The top-k artifact codec."""

from __future__ import annotations

import zlib

import pytest
from attesta_common.artifact import ArtifactError, TopKArtifact


def _artifact() -> TopKArtifact:
    return TopKArtifact.build(
        5,
        [[1, 2, 3, 4, 5], [9, 8, 7, 6, 5]],
        [[-0.1, -2.5, -3.0, -4.1, -5.0], [-0.01, -4.0, -6.0, -7.0, -8.123456789]],
    )


def test_round_trip_is_exact_at_float32() -> None:
    artifact = _artifact()
    decoded = TopKArtifact.decode_b64(artifact.encode_b64())
    assert decoded == artifact
    assert decoded.digest() == artifact.digest()
    assert artifact.logprobs[1][4] != -8.123456789  # stored as float32


@pytest.mark.parametrize(
    "blob",
    [b"", b"not zlib", zlib.compress(b"ATA1"), zlib.compress(b"XXXX\x05\x01\x00\x00\x00")],
)
def test_malformed_bytes_are_refused(blob: bytes) -> None:
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(blob)


def test_truncated_and_non_base64_are_refused() -> None:
    raw = zlib.decompress(_artifact().encode())
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(zlib.compress(raw[:-4]))
    with pytest.raises(ArtifactError):
        TopKArtifact.decode_b64("***")


def test_rows_must_have_k_entries() -> None:
    with pytest.raises(ArtifactError):
        TopKArtifact.build(5, [[1, 2]], [[-1.0, -2.0]]).encode()
