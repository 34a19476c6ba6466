"""ATA2, the artifact's compact binary layout (the one executors sign since ATA2 exists).

Header: magic, k, position count (little-endian). Body, raw deflate: every token id as a
LEB128 varint, rank by rank (rank 0 of every position, then rank 1 ...), then the
log-probabilities as grid codes (`attesta_common.logprob_grid`), rank 0 as a zig-zag
varint and each later rank as the zig-zag step from the rank before. Laying like next to
like lets deflate find it; along a descending row the steps are small and non-negative,
and zig-zag keeps any other row exact too (a malformed row must reach the structural
checks as it was sent, not be repaired here).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence

from attesta_common.logprob_grid import grid_code, grid_value

MAGIC = b"ATA2"
HEADER = struct.Struct("<4sBI")
# A varint of a 64-bit value takes at most 10 bytes; anything longer is not ours.
_MAX_VARINT_BYTES = 10
# Up to this many body bytes, level-9 deflate follows every hash chain to its end (zlib's
# limit is 1,024 links once a match is good) whatever the hash table's size.
_SMALL_BODY = 1022
# zlib's MIN_LOOKAHEAD: a window of 2**w bytes reaches back at most 2**w - 262 bytes.
_LOOKAHEAD = 262


class CompactArtifactError(ValueError):
    pass


def write_varint(value: int, out: bytearray) -> None:
    write_varints((value,), out)


def write_varints(values: Iterable[int], out: bytearray) -> None:
    """LEB128 of non-negative values, in one loop (a call per value was a third of
    encoding an artifact)."""
    append = out.append
    for value in values:
        while value > 0x7F:
            append((value & 0x7F) | 0x80)
            value >>= 7
        append(value)


def zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def unzigzag(value: int) -> int:
    return value >> 1 if value % 2 == 0 else -((value + 1) >> 1)


def _read_varints(data: bytes) -> Iterator[int]:
    value, shift = 0, 0
    for byte in data:
        if byte == 0 and shift:
            # A padded varint: the same value in more bytes. One artifact, one byte string.
            raise CompactArtifactError("non-canonical varint")
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            yield value
            value, shift = 0, 0
        elif shift >= 7 * _MAX_VARINT_BYTES:
            raise CompactArtifactError("varint too long")
    if shift:
        raise CompactArtifactError("artifact ends inside a varint")


def encode(
    k: int,
    token_ids: Sequence[Sequence[int]],
    logprobs: Sequence[Sequence[float]],
    codes: Sequence[Sequence[int]] | None = None,
) -> bytes:
    """`codes`: the grid codes of `logprobs`, where the caller has them already."""
    positions = len(token_ids)
    body = bytearray()
    for rank in range(k):
        ids = [row[rank] for row in token_ids]
        if min(ids, default=0) < 0:
            raise CompactArtifactError("token ids are non-negative")
        write_varints(ids, body)
    if codes is None:
        codes = [[grid_code(lp) for lp in row] for row in logprobs]
    for rank in range(k):
        if rank == 0:
            steps = [row_codes[0] for row_codes in codes]
        else:
            steps = [row_codes[rank] - row_codes[rank - 1] for row_codes in codes]
        write_varints(map(zigzag, steps), body)
    return HEADER.pack(MAGIC, k, positions) + deflate(bytes(body))


def deflate(body: bytes) -> bytes:
    """Raw deflate at level 9, byte for byte what zlib gives with its default sizes
    (`memLevel` 8, a 32 KiB window), so a table encodes as it always did.

    Setting those sizes up (allocating and clearing some 256 KiB) was most of encoding a
    short artifact in the executor. A body that fits the smallest window reaching back
    over all of it, and a literal buffer that holds all of it in one block, compresses to
    the same bytes: every earlier position is still looked at, in the same order, and the
    block ends where the body does (tests/unit/common/test_artifact.py compares the two).
    """
    size = len(body)
    if size <= _SMALL_BODY:
        # zlib's literal buffer holds 2**(memLevel + 6) - 1 symbols; a body of `size`
        # bytes makes at most `size`, and the buffer is flushed as a block when full.
        mem_level = max(1, (size + 1).bit_length() - 6)
        window_bits = 9
        while (1 << window_bits) - _LOOKAHEAD < size:
            window_bits += 1
    else:
        mem_level, window_bits = 8, 15
    packer = zlib.compressobj(9, zlib.DEFLATED, -window_bits, mem_level)
    return packer.compress(body) + packer.flush()


def decode(
    blob: bytes, max_positions: int
) -> tuple[int, tuple[tuple[int, ...], ...], tuple[tuple[float, ...], ...]]:
    """The table; a header claiming more than `max_positions` is refused before inflating."""
    if len(blob) < HEADER.size:
        raise CompactArtifactError("artifact shorter than its header")
    magic, k, positions = HEADER.unpack_from(blob)
    if magic != MAGIC or k == 0:
        raise CompactArtifactError("not an ATA2 artifact")
    if positions > max_positions:
        raise CompactArtifactError(
            f"artifact claims {positions} positions, at most {max_positions}"
        )
    count = 2 * k * positions
    inflater = zlib.decompressobj(-15)
    try:
        # Bounded (0 would mean unbounded to zlib), so a few hostile bytes cannot inflate
        # into gigabytes.
        body = inflater.decompress(blob[HEADER.size :], max(1, count * _MAX_VARINT_BYTES))
    except zlib.error as exc:
        raise CompactArtifactError(f"artifact body is not deflate data: {exc}") from exc
    if inflater.unconsumed_tail or inflater.unused_data or not inflater.eof:
        raise CompactArtifactError("artifact body is longer than its header allows, or cut")
    values = list(_read_varints(body))
    if len(values) != count:
        raise CompactArtifactError("artifact length does not match its header")
    ids = tuple(tuple(values[rank * positions + p] for rank in range(k)) for p in range(positions))
    steps = values[k * positions :]
    rows = []
    try:
        for p in range(positions):
            code = unzigzag(steps[p])
            row = [grid_value(code)]
            for rank in range(1, k):
                code += unzigzag(steps[rank * positions + p])
                row.append(grid_value(code))
            rows.append(tuple(row))
    except ValueError as exc:
        raise CompactArtifactError(str(exc)) from exc
    return k, ids, tuple(rows)
