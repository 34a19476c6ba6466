"""The verification artifact: the top-k log-probabilities at every generated position.

Binary and compressed at rest. Executors write ATA2 (`attesta_common.artifact_ata2`: log-
probabilities as codes on the reporting grid, about 14 bytes per token at k=3); records
written before it carry ATA1 (per position k uint32 ids and k float32 log-probabilities,
zlib-compressed), which still decodes so their checks can be repeated. The hash of the
encoded bytes is bound into the executor's signed receipt.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from attesta_common import artifact_ata2
from attesta_common.canonical import sha256_hex
from attesta_common.logprob_grid import to_grid_row

ATA1_MAGIC = b"ATA1"
_ATA1_HEADER = struct.Struct("<4sBI")
# No answer is longer than a model's context; this bounds what a header may claim when
# the caller knows no tighter limit.
MAX_POSITIONS = 1 << 16
_ATA1_MAX_K = 255


class ArtifactError(ValueError):
    """The artifact bytes do not decode to a well-formed top-k table."""


@dataclass(frozen=True)
class TopKArtifact:
    """token_ids[p][j] and logprobs[p][j]: the j-th most likely token at output position p.

    `on_grid`: the log-probabilities lie on the reporting grid and the tokens were chosen
    from grid values (every ATA2 artifact); false for a legacy ATA1 table, whose executor
    chose from the raw float32 numbers, so its replay must not snap them.
    """

    k: int
    token_ids: tuple[tuple[int, ...], ...]
    logprobs: tuple[tuple[float, ...], ...]
    on_grid: bool = False
    # The rows' grid codes where whoever snapped them kept them (`from_grid_rows`): not
    # part of the table's identity, only what encoding it would compute again.
    grid_codes: tuple[tuple[int, ...], ...] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(
        cls, k: int, token_ids: Sequence[Sequence[int]], logprobs: Sequence[Sequence[float]]
    ) -> TopKArtifact:
        ids = tuple(tuple(int(t) for t in row) for row in token_ids)
        # On the grid now, so the in-memory artifact equals the decoded one.
        try:
            lps = tuple(to_grid_row(row) for row in logprobs)
        except ValueError as exc:
            raise ArtifactError(str(exc)) from exc
        return cls(k=k, token_ids=ids, logprobs=lps, on_grid=True)

    @classmethod
    def from_grid_rows(
        cls,
        k: int,
        token_ids: Sequence[Sequence[int]],
        logprobs: Sequence[tuple[float, ...]],
        grid_codes: Sequence[tuple[int, ...]] | None = None,
    ) -> TopKArtifact:
        """`build` for rows whose log-probabilities are grid values already (the engines'
        `StepBuilder` snaps each row as it reports it): snapping again changes nothing.
        `grid_codes`: their codes, when the snapping kept them (`logprob_grid.snap_row`)."""
        ids = tuple(tuple(int(t) for t in row) for row in token_ids)
        codes = None if grid_codes is None else tuple(grid_codes)
        return cls(k=k, token_ids=ids, logprobs=tuple(logprobs), on_grid=True, grid_codes=codes)

    @property
    def positions(self) -> int:
        return len(self.token_ids)

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # Encoded once: the record carries these bytes and the receipt their hash.
        if not self.on_grid:
            raise ArtifactError("only a table on the grid encodes as ATA2: build() it")
        if any(len(row) != self.k for row in (*self.token_ids, *self.logprobs)):
            raise ArtifactError("every position must carry exactly k entries")
        codes = self.grid_codes
        if codes is not None and (
            len(codes) != self.positions or any(len(row) != self.k for row in codes)
        ):
            raise ArtifactError("the kept grid codes do not match the table")
        try:
            return artifact_ata2.encode(self.k, self.token_ids, self.logprobs, self.grid_codes)
        except ValueError as exc:
            raise ArtifactError(str(exc)) from exc

    def encode_ata1(self) -> bytes:
        """The legacy layout, for comparisons and for records written before ATA2."""
        body = bytearray(_ATA1_HEADER.pack(ATA1_MAGIC, self.k, self.positions))
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
    def decode(cls, blob: bytes, max_positions: int = MAX_POSITIONS) -> TopKArtifact:
        """The table of ATA2 or ATA1 bytes holding at most `max_positions` positions."""
        if blob[:4] == artifact_ata2.MAGIC:
            try:
                k, ids, lps = artifact_ata2.decode(blob, max_positions)
            except ValueError as exc:
                raise ArtifactError(str(exc)) from exc
            return cls(k=k, token_ids=ids, logprobs=lps, on_grid=True)
        return cls._decode_ata1(blob, max_positions)

    @classmethod
    def _decode_ata1(cls, blob: bytes, max_positions: int) -> TopKArtifact:
        limit = _ATA1_HEADER.size + max_positions * 8 * _ATA1_MAX_K
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(blob, limit + 1)
        except zlib.error as exc:
            raise ArtifactError(f"artifact is neither ATA2 nor zlib data: {exc}") from exc
        if len(raw) > limit or not inflater.eof:
            raise ArtifactError("artifact is longer than allowed, or cut")
        if len(raw) < _ATA1_HEADER.size:
            raise ArtifactError("artifact shorter than its header")
        magic, k, positions = _ATA1_HEADER.unpack_from(raw)
        if magic != ATA1_MAGIC or k == 0:
            raise ArtifactError("unknown artifact format")
        if positions > max_positions:
            raise ArtifactError(f"artifact claims {positions} positions, at most {max_positions}")
        row_format = struct.Struct(f"<{k}I{k}f")
        if len(raw) != _ATA1_HEADER.size + positions * row_format.size:
            raise ArtifactError("artifact length does not match its header")
        ids, lps = [], []
        for p in range(positions):
            row = row_format.unpack_from(raw, _ATA1_HEADER.size + p * row_format.size)
            ids.append(tuple(row[:k]))
            lps.append(tuple(row[k:]))
        return cls(k=k, token_ids=tuple(ids), logprobs=tuple(lps), on_grid=False)

    @classmethod
    def decode_b64(cls, text: str) -> TopKArtifact:
        try:
            blob = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise ArtifactError(f"artifact is not base64: {exc}") from exc
        return cls.decode(blob)
