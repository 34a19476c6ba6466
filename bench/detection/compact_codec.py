"""Prototype of a compact artifact codec (not adopted: libs/ keep the ATA1 codec).

The Gonka distance is relative (|v - o| / (|v| + |o|)), so log-probabilities need relative,
not absolute, precision: a confident token at -1e-4 matters as much as one at -10. Each is
stored as q = round(log2(-lp) * 2^F), F fractional bits; along a row -lp grows, so ranks
after the first are stored as non-negative steps of q. Ids and steps are LEB128 varints,
laid out column by column (rank 0 of every position, then rank 1 ...) so that deflate sees
like next to like. A rounding step of ln2 * 2^-F relative moves each distance term by at
most about 2^-F / 2.9; F = 16 keeps the shift near 1% of the 2e-4 threshold.

An executor adopting it must sample from the decoded (quantized) numbers, so that the
replay from the artifact stays exact.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterator

from attesta_common.artifact import TopKArtifact

MAGIC = b"ATC1"
_HEADER = struct.Struct("<4sBIB")
# -lp below this (log_softmax rounding at a certain token) is stored as this.
_TINY = 2.0**-60


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzigzag(value: int) -> int:
    return value // 2 if value % 2 == 0 else -(value + 1) // 2


def _read_varints(data: bytes) -> Iterator[int]:
    value, shift = 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            yield value
            value, shift = 0, 0


def _code(lp: float, frac_bits: int) -> int:
    return round(math.log2(max(-lp, _TINY)) * (1 << frac_bits))


def encode(artifact: TopKArtifact, frac_bits: int = 16) -> bytes:
    k, n = artifact.k, artifact.positions
    codes = [[_code(lp, frac_bits) for lp in row] for row in artifact.logprobs]
    body = bytearray()
    for rank in range(k):
        for p in range(n):
            body += _varint(artifact.token_ids[p][rank])
    for rank in range(k):
        for p in range(n):
            if rank == 0:
                body += _varint(_zigzag(codes[p][0]))
            else:
                # Rounding is monotone, so a descending row gives non-negative steps.
                body += _varint(max(0, codes[p][rank] - codes[p][rank - 1]))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: no zlib header
    return _HEADER.pack(MAGIC, k, n, frac_bits) + packer.compress(bytes(body)) + packer.flush()


def decode(blob: bytes) -> TopKArtifact:
    magic, k, n, frac_bits = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError("not a compact artifact")
    values = list(_read_varints(zlib.decompress(blob[_HEADER.size :], -15)))
    if len(values) != 2 * k * n:
        raise ValueError("compact artifact length does not match its header")
    ids = [[values[rank * n + p] for rank in range(k)] for p in range(n)]
    steps = values[k * n :]
    lps = []
    for p in range(n):
        code = _unzigzag(steps[p])
        row = [code]
        for rank in range(1, k):
            code += steps[rank * n + p]
            row.append(code)
        lps.append([-(2.0 ** (c / (1 << frac_bits))) for c in row])
    return TopKArtifact.build(k, ids, lps)
