"""Reading vLLM's log-probability dicts: the reported top-k of a generated position, and
the validator's view of each output position in a `prompt_logprobs` prefill."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attesta_engine.port import PositionScores

# Prefill top-k is wider than the artifact's so that the reported tokens of an honest
# executor are (almost) always among the validator's returned candidates.
SCORE_WIDTH_FACTOR = 4


def ranked(entry: dict[int, Any], k: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    ranked = sorted(entry.items(), key=lambda item: item[1].rank)[:k]
    return tuple(t for t, _ in ranked), tuple(float(lp.logprob) for _, lp in ranked)


def score_rows(
    rows: Sequence[dict[int, Any] | None],
    prompt_len: int,
    output_len: int,
    lookup_ids: Sequence[Sequence[int]],
    top_k: int,
) -> list[PositionScores]:
    """The output positions of a `prompt_logprobs` prefill as the port's scores."""
    scores = []
    for position in range(output_len):
        entry = rows[prompt_len + position] or {}
        ids, lps = ranked(entry, top_k)
        floor = min((float(lp.logprob) for lp in entry.values()), default=float("-inf"))
        wanted = lookup_ids[position] if position < len(lookup_ids) else ()
        # A token outside the returned candidates is at most as likely as the least
        # likely returned one: an honest bound, used only for rare tail tokens.
        looked = tuple(float(entry[t].logprob) if t in entry else floor for t in wanted)
        scores.append(PositionScores(ids, lps, looked))
    return scores
