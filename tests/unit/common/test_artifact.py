"""The top-k artifact codec: ATA2 written, ATA1 (records from before it) still read."""

from __future__ import annotations

import random
import struct
import zlib

import pytest
from attesta_common import artifact_ata2
from attesta_common.artifact import ArtifactError, TopKArtifact
from attesta_common.logprob_grid import MAX_CODE, MIN_CODE, grid_value, snap_row, to_grid


def _artifact(k: int = 5) -> TopKArtifact:
    return TopKArtifact.build(
        k,
        [[1, 2, 3, 4, 5][:k], [9, 8, 7, 6, 5][:k]],
        [[-0.1, -2.5, -3.0, -4.1, -5.0][:k], [-0.01, -4.0, -6.0, -7.0, -8.123456789][:k]],
    )


def test_round_trip_is_exact_on_the_grid() -> None:
    artifact = _artifact()
    blob = artifact.encode()
    assert blob[:4] == b"ATA2"
    decoded = TopKArtifact.decode_b64(artifact.encode_b64())
    assert decoded == artifact
    assert decoded.digest() == artifact.digest()
    assert artifact.logprobs[1][4] == to_grid(-8.123456789) != -8.123456789


def test_rows_in_any_order_survive_unchanged() -> None:
    # A malformed (ascending) row must reach the structural checks as it was sent.
    artifact = TopKArtifact.build(3, [[5, 6, 7]], [[-9.0, -0.5, -0.0001]])
    assert TopKArtifact.decode(artifact.encode()) == artifact


def test_compact_on_a_realistic_table() -> None:
    rng = random.Random(7)
    ids, lps = [], []
    for _ in range(64):
        ids.append([rng.randrange(49152) for _ in range(3)])
        top = -rng.expovariate(3.0)
        lps.append([top, top - rng.expovariate(0.5), top - 3 - rng.expovariate(0.5)])
        lps[-1].sort(reverse=True)
    artifact = TopKArtifact.build(3, ids, lps)
    # Random ids compress worst of all; real ones repeat and do better (docs/detection.md).
    assert len(artifact.encode()) / 64 < len(artifact.encode_ata1()) / 64
    assert TopKArtifact.decode(artifact.encode()) == artifact


def test_only_a_table_on_the_grid_encodes_as_ata2() -> None:
    raw = TopKArtifact(1, ((3,),), ((-0.123456789,),))
    assert not raw.on_grid
    with pytest.raises(ArtifactError):
        raw.encode()
    assert TopKArtifact.decode(raw.encode_ata1()).on_grid is False


def test_ata1_records_still_decode() -> None:
    header = struct.pack("<4sBI", b"ATA1", 2, 1)
    blob = zlib.compress(header + struct.pack("<2I2f", 11, 12, -0.25, -3.5))
    decoded = TopKArtifact.decode(blob)
    assert decoded.k == 2
    assert decoded.token_ids == ((11, 12),)
    assert decoded.logprobs == ((-0.25, -3.5),)
    assert TopKArtifact.decode(_artifact().encode_ata1()).token_ids == _artifact().token_ids


def _ata2(k: int, positions: int, body: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return struct.pack("<4sBI", b"ATA2", k, positions) + packer.compress(body) + packer.flush()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"not zlib",
        zlib.compress(b"ATA1"),
        zlib.compress(b"XXXX\x05\x01\x00\x00\x00"),
        b"ATA2",
        b"ATA2\x03\x01\x00\x00\x00not deflate",
        _ata2(1, 1, b"\x05"),  # one value of the two the header promises
        _ata2(1, 1, b"\x05\x80"),  # ends inside a varint
        _ata2(1, 1, b"\x05" + b"\xff" * 12 + b"\x01"),  # varint longer than 64 bits
        _ata2(1, 1, b"\x05\xfe\xff\xff\x7f"),  # code far off the grid
        _ata2(0, 1, b""),
        _ata2(1, 1, b"\x05\x02") + b"trailing",
        _ata2(1, 1, b"\x85\x00\x02"),  # a padded (non-canonical) varint
        _ata2(1, 70_000, b""),  # more positions than any answer has
    ],
)
def test_malformed_bytes_are_refused(blob: bytes) -> None:
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(blob)


@pytest.mark.parametrize("positions", [0, 1, 2**32 - 1])
def test_a_bomb_is_refused_without_inflating_it(positions: int) -> None:
    # 0 positions is a zero inflation limit, which zlib reads as "no limit".
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(_ata2(1, positions, b"\x00" * 10_000_000))


def test_a_legacy_bomb_is_refused_too() -> None:
    header = struct.pack("<4sBI", b"ATA1", 1, 1)
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(zlib.compress(header + b"\x00" * 50_000_000), max_positions=10)


def test_the_caller_bounds_the_positions() -> None:
    blob = _artifact().encode()
    assert TopKArtifact.decode(blob, max_positions=2).positions == 2
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(blob, max_positions=1)
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(_artifact().encode_ata1(), max_positions=1)


def test_truncated_and_non_base64_are_refused() -> None:
    blob = _artifact().encode()
    with pytest.raises(ArtifactError):
        TopKArtifact.decode(blob[:-4])
    with pytest.raises(ArtifactError):
        TopKArtifact.decode_b64("***")


def test_rows_must_have_k_entries() -> None:
    with pytest.raises(ArtifactError):
        TopKArtifact.build(5, [[1, 2]], [[-1.0, -2.0]]).encode()


def test_negative_ids_and_nan_are_refused() -> None:
    with pytest.raises(ArtifactError):
        TopKArtifact.build(1, [[-1]], [[-1.0]]).encode()
    with pytest.raises(ArtifactError):
        TopKArtifact.build(1, [[1]], [[float("nan")]])


def test_codec_module_names_its_own_errors() -> None:
    with pytest.raises(artifact_ata2.CompactArtifactError):
        artifact_ata2.decode(b"ATA1\x01\x00\x00\x00\x00", 10)


def _layout_as_specified(k: int, ids: list[list[int]], codes: list[list[int]]) -> bytes:
    """ATA2 as its module docstring defines it, one value at a time: the encoder must
    give these bytes exactly (a signed artifact is one byte string per table)."""

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | 0x80 if value else byte)
            if not value:
                return bytes(out)

    body = b"".join(varint(row[rank]) for rank in range(k) for row in ids)
    for rank in range(k):
        for row in codes:
            step = row[0] if rank == 0 else row[rank] - row[rank - 1]
            body += varint(step * 2 if step >= 0 else -step * 2 - 1)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    header = struct.pack("<4sBI", b"ATA2", k, len(ids))
    return header + packer.compress(body) + packer.flush()


def test_encoding_is_byte_for_byte_the_specified_layout() -> None:
    rng = random.Random(11)
    for _ in range(50):
        k = rng.randrange(1, 6)
        positions = rng.randrange(0, 40)
        ids = [
            [rng.randrange(1 << rng.choice((7, 14, 21, 32))) for _ in range(k)]
            for _ in range(positions)
        ]
        codes = [
            [rng.randrange(MIN_CODE, MAX_CODE + 1) for _ in range(k)] for _ in range(positions)
        ]
        lps = [[grid_value(code) for code in row] for row in codes]
        assert artifact_ata2.encode(k, ids, lps) == _layout_as_specified(k, ids, codes)


def test_codes_kept_from_snapping_encode_the_same_bytes() -> None:
    rng = random.Random(5)
    rows = [tuple(sorted((-rng.uniform(0, 20) for _ in range(3)), reverse=True)) for _ in range(30)]
    snapped = [snap_row(row) for row in rows]
    ids = [[rng.randrange(50_000) for _ in range(3)] for _ in rows]
    plain = TopKArtifact.from_grid_rows(3, ids, [values for values, _ in snapped])
    kept = TopKArtifact.from_grid_rows(
        3, ids, [values for values, _ in snapped], [codes for _, codes in snapped]
    )
    assert kept.encode() == plain.encode() == TopKArtifact.build(3, ids, rows).encode()
    # The codes are a shortcut, not part of the table: a decoded copy equals it.
    assert TopKArtifact.decode(kept.encode()) == kept
    short = TopKArtifact.from_grid_rows(
        3, ids, [v for v, _ in snapped], [c[:2] for _, c in snapped]
    )
    with pytest.raises(ArtifactError, match="grid codes"):
        short.encode()


def _default_deflate(body: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(body) + packer.flush()


def _bodies(rng: random.Random, size: int) -> list[bytes]:
    """Bodies deflate treats differently: random, a few symbols, runs, a pattern with noise."""
    pattern = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    noisy = bytearray((pattern * (size // len(pattern) + 1))[:size])
    for _ in range(size // 10):
        noisy[rng.randrange(size)] = rng.randrange(256)
    return [
        bytes(rng.randrange(256) for _ in range(size)),
        bytes(rng.randrange(4) for _ in range(size)),
        bytes(rng.choice((0, 0, 1, rng.randrange(256))) for _ in range(size)),
        bytes(noisy),
    ]


def test_the_sized_compressor_gives_zlibs_default_bytes() -> None:
    # Every size where the compressor's set-up changes (each power of two around the
    # literal buffer and the window), and past the largest sized one.
    rng = random.Random(3)
    edges = {0, 1, 2, 3, 1022, 1023, 1024, 1500, 3000}
    for power in range(6, 11):
        edges |= {(1 << power) + d for d in range(-4, 3)}
        edges |= {(1 << power) - 262 + d for d in range(-2, 3)}
    for size in sorted(edges) + [rng.randrange(1, 1100) for _ in range(60)]:
        for body in _bodies(rng, size):
            assert artifact_ata2.deflate(body) == _default_deflate(body), size
