"""The compact anchor memo: one batch root in 70 ASCII characters.

    AT1:<base64url, unpadded, of 49 bytes>

The 49 bytes are big-endian `version (u8) | epoch (u32) | batch_seq (u64) |
merkle_root (32 bytes) | leaf_count (u32)`. The prefix lets anyone scanning a chain's
memos pick out Attesta anchors; base64url keeps the memo printable (a memo is a UTF-8
string) at 4/3 of the binary size. The epoch is the network epoch at anchoring time, so
an indexer can find the anchors of an epoch without the ledger database.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

MEMO_PREFIX = "AT1:"
MEMO_VERSION = 1
_LAYOUT = struct.Struct(">BIQ32sI")
MEMO_LENGTH = len(MEMO_PREFIX) + (_LAYOUT.size * 4 + 2) // 3


class MemoError(ValueError):
    """The memo is not an Attesta anchor memo of a version this code reads."""


@dataclass(frozen=True)
class AnchorMemo:
    epoch: int
    batch_seq: int
    merkle_root: str  # hex, 32 bytes
    leaf_count: int
    version: int = MEMO_VERSION

    def encode(self) -> str:
        try:
            root = bytes.fromhex(self.merkle_root)
            if len(root) != 32:
                raise ValueError("the Merkle root must be 32 bytes")
            packed = _LAYOUT.pack(self.version, self.epoch, self.batch_seq, root, self.leaf_count)
        except (struct.error, ValueError) as exc:
            raise MemoError(f"cannot encode {self}: {exc}") from exc
        return MEMO_PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, memo: str) -> AnchorMemo:
        if not memo.startswith(MEMO_PREFIX):
            raise MemoError(f"not an Attesta anchor memo: {memo[:16]!r}")
        body = memo[len(MEMO_PREFIX) :]
        try:
            packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            version, epoch, batch_seq, root, leaf_count = _LAYOUT.unpack(packed)
        except (binascii.Error, struct.error, ValueError) as exc:
            raise MemoError(f"malformed anchor memo: {exc}") from exc
        if version != MEMO_VERSION:
            raise MemoError(f"anchor memo version {version} is not supported")
        return cls(
            epoch=epoch,
            batch_seq=batch_seq,
            merkle_root=root.hex(),
            leaf_count=leaf_count,
            version=version,
        )
