"""Epoch arithmetic, epoch seeds and the auditable executor draw."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from attesta_common.genesis import Genesis


def epoch_at(genesis: Genesis, now_ms: int) -> int:
    elapsed = max(0, now_ms - genesis.genesis_time_ms)
    return int(elapsed // int(genesis.epoch_seconds * 1000))


def epoch_end_ms(genesis: Genesis, epoch: int) -> int:
    return genesis.genesis_time_ms + (epoch + 1) * int(genesis.epoch_seconds * 1000)


def epoch_seed(genesis: Genesis, epoch: int) -> bytes:
    return hashlib.sha256(
        b"attesta-epoch-v1" + bytes.fromhex(genesis.hash) + epoch.to_bytes(8, "big")
    ).digest()


def draw_executor(seed: bytes, inference_id: str, candidates: Sequence[tuple[str, int]]) -> str:
    """Weighted draw that anyone can re-derive from (epoch seed, inference id, weights).

    Candidates are ordered by address, so the result depends on the set, not its order.
    """
    ranked = sorted((address, weight) for address, weight in candidates if weight > 0)
    if not ranked:
        raise ValueError("no candidate with positive weight")
    total = sum(weight for _, weight in ranked)
    ticket = int.from_bytes(hashlib.sha256(seed + inference_id.encode()).digest(), "big") % total
    for address, weight in ranked:
        if ticket < weight:
            return address
        ticket -= weight
    raise AssertionError("unreachable: ticket below total weight")
