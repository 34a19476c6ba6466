"""The port through which sealed Merkle roots reach a chain.

An adapter (the local hash-chained ledger, a Cosmos chain, ...) only has to record one
root per batch and say where it put it. Anchoring is retried after crashes, so an adapter
must recognise a batch it already anchored and hand back the first receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SealedBatch:
    batch_seq: int
    merkle_root: str  # hex
    leaf_count: int


@dataclass(frozen=True)
class AnchorReceipt:
    kind: str
    ref: str
    height: int


class AnchorConflict(RuntimeError):
    """The chain already holds a different root for this batch: the ledger is inconsistent."""


class ChainAnchor(Protocol):
    kind: str

    async def anchor(self, batch: SealedBatch) -> AnchorReceipt:
        """Record the batch root; anchoring the same batch again returns the first receipt."""
        ...

    async def lookup(self, batch_seq: int) -> AnchorReceipt | None: ...
