"""The verification artifact: the top-k log-probabilities at every generated position.

Binary and compressed at rest: magic, k, position count, then per position k token ids
(uint32) and k log-probabilities (float32), all little-endian, zlib-compressed. The hash
of the encoded bytes is bound into the executor's signed receipt.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from attesta_common.canonical import sha256_hex

MAGIC = b"ATA1"
_HEADER = struct.Struct("<4sBI")


def _as_float32(row: Sequence[float]) -> tuple[float, ...]:
    layout = f"<{len(row)}f"
    return tuple(struct.unpack(layout, struct.pack(layout, *row)))


class ArtifactError(ValueError):
    """The artifact bytes do not decode to a well-formed top-k table."""


@dataclass(frozen=True)
class TopKArtifact:
    """token_ids[p][j] and logprobs[p][j]: the j-th most likely token at output position p."""

    k: int
    token_ids: tuple[tuple[int, ...], ...]
    logprobs: tuple[tuple[float, ...], ...]

    @classmethod
    def build(
        cls, k: int, token_ids: Sequence[Sequence[int]], logprobs: Sequence[Sequence[float]]
    ) -> TopKArtifact:
        ids = tuple(tuple(int(t) for t in row) for row in token_ids)
        # float32 round trip now, so the in-memory artifact equals the decoded one.
        lps = tuple(
            tuple(struct.unpack(f"<{len(row)}f", struct.pack(f"<{len(row)}f", *row)))
            for row in logprobs
        )
        return cls(k=k, token_ids=ids, logprobs=lps)

    @property
    def positions(self) -> int:
        return len(self.token_ids)

    def encode(self) -> bytes:
        body = bytearray(_HEADER.pack(MAGIC, self.k, self.positions))
        row_format = struct.Struct(f"<{self.k}I{self.k}f")
        for ids, lps in zip(self.token_ids, self.logprobs, strict=True):
            if len(ids) != self.k or len(lps) != self.k:
                raise ArtifactError("every position must carry exactly k entries")
            body += row_format.pack(*ids, *lps)
        return zlib.compress(bytes(body), 6)

    def encode_b64(self) -> str:
        return base64.b64encode(self.encode()).decode("ascii")

    def digest(self) -> str:
        return sha256_hex(self.encode())

    @classmethod
    def decode(cls, blob: bytes) -> TopKArtifact:
        try:
            raw = zlib.decompress(blob)
        except zlib.error as exc:
            raise ArtifactError(f"artifact is not zlib data: {exc}") from exc
        if len(raw) < _HEADER.size:
            raise ArtifactError("artifact shorter than its header")
        magic, k, positions = _HEADER.unpack_from(raw)
        if magic != MAGIC or k == 0:
            raise ArtifactError("unknown artifact format")
        row_format = struct.Struct(f"<{k}I{k}f")
        if len(raw) != _HEADER.size + positions * row_format.size:
            raise ArtifactError("artifact length does not match its header")
        ids, lps = [], []
        for p in range(positions):
            row = row_format.unpack_from(raw, _HEADER.size + p * row_format.size)
            ids.append(tuple(row[:k]))
            lps.append(tuple(row[k:]))
        return cls(k=k, token_ids=tuple(ids), logprobs=tuple(lps))

    @classmethod
    def decode_b64(cls, text: str) -> TopKArtifact:
        try:
            blob = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise ArtifactError(f"artifact is not base64: {exc}") from exc
        return cls.decode(blob)
