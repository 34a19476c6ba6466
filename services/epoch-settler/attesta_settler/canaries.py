"""Canaries in a settlement: which inferences they were, and who approved one.

A gateway's reveal opens its commitment (`sha256(secret)`, committed by the cutoff);
every inference that gateway requested whose id carries the secret's mark is a canary
(attesta_common.canary), unless it finished with a record whose tag does not attest it:
only a canary executor can tag a spoiled canary, so a gateway cannot mark real work and
frame the validators who rightly passed it. A canary is the network's, not work: it is
left out of its executor's accounting and of refunds, and a failed verdict on it is never
an overruled accusation. A validator whose counted verdict passed one is flagged
`approved_canary` and loses its share of the validator pool. Verdicts on a canary recorded
after its reveal are not counted at all: they were given knowing what it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from attesta_common.canary import is_canary, spoil_tag

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


@dataclass(frozen=True)
class MarkedCandidate:
    """A requested inference as the canary rule sees it."""

    inference_id: str
    gateway: str
    # Whether it finished by the cutoff; if not, no verdict on it counts, and a canary that
    # failed stays the network's, not work.
    finished: bool
    tag: str | None  # of its finished record (none on records older than tags)


def canary_ids(
    requested: Iterable[MarkedCandidate], reveals: Mapping[str, CanaryReveal]
) -> dict[str, int]:
    """Canary id -> the sequence of its reveal."""
    found = {}
    for candidate in requested:
        reveal = reveals.get(candidate.gateway)
        if reveal is None or not is_canary(reveal.secret, candidate.inference_id):
            continue
        # Strict: a finished record without the spoil tag (an untagged one included) is work.
        if not candidate.finished or candidate.tag == spoil_tag(
            reveal.secret, candidate.inference_id
        ):
            found[candidate.inference_id] = reveal.seq
    return found
