"""Canaries in a settlement: which inferences they were, and who approved one.

A gateway's reveal opens its commitment (`sha256(secret)`, committed by the cutoff);
every inference that gateway requested whose id carries the secret's mark is a canary
(attesta_common.canary). A canary is the network's, not work: it is left out of its
executor's accounting and of refunds, and a failed verdict on it is never an overruled
accusation. A validator whose counted verdict passed one is flagged `approved_canary`
and loses its share of the validator pool. Verdicts on a canary recorded after its
reveal are not counted at all: they were given knowing what it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from attesta_common.canary import is_canary

APPROVED_CANARY = "approved_canary"


@dataclass(frozen=True)
class CanaryReveal:
    gateway: str
    secret: bytes
    seq: int
    record_hash: str


def opened(
    reveals: Iterable[CanaryReveal], commitments: Mapping[str, str]
) -> dict[str, CanaryReveal]:
    """The reveals that open their gateway's commitment, by gateway."""
    return {
        r.gateway: r
        for r in reveals
        if commitments.get(r.gateway) == hashlib.sha256(r.secret).hexdigest()
    }


def canary_ids(
    requested: Iterable[tuple[str, str]], reveals: Mapping[str, CanaryReveal]
) -> dict[str, int]:
    """`requested`: (inference id, gateway). Canary id -> the sequence of its reveal."""
    found = {}
    for inference_id, gateway in requested:
        reveal = reveals.get(gateway)
        if reveal is not None and is_canary(reveal.secret, inference_id):
            found[inference_id] = reveal.seq
    return found
