"""OpenAI-shaped log-probabilities of a generated token, from the engine's reported top-k.

The numbers are exactly those in the artifact (raw model log-probabilities, before
temperature or top-p), so what a client sees is what validators replay.
"""

from __future__ import annotations

from collections.abc import Callable

from attesta_common.stream import TokenLogprob, TopLogprob
from attesta_engine.port import TokenStep

TokenText = Callable[[int], str]


def _utf8(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def _alternative(token: int, logprob: float, token_text: TokenText) -> TopLogprob:
    text = token_text(token)
    return TopLogprob(token=text, logprob=logprob, bytes=_utf8(text))


def chosen_logprob(step: TokenStep) -> float:
    """The reported log-probability of the chosen token (always among the top-k)."""
    try:
        return step.topk_logprobs[step.topk_ids.index(step.token_id)]
    except ValueError:
        raise ValueError(
            f"token {step.token_id} at position {step.position} is not in its reported top-k"
        ) from None


def token_logprob(step: TokenStep, top_logprobs: int, token_text: TokenText) -> TokenLogprob:
    """`logprobs.content[i]` for one step, with at most `top_logprobs` alternatives.

    The alternatives cannot go beyond the k the engine reports.
    """
    text = token_text(step.token_id)
    shown = max(0, min(top_logprobs, len(step.topk_ids)))
    alternatives = [
        _alternative(token, logprob, token_text)
        for token, logprob in zip(step.topk_ids[:shown], step.topk_logprobs[:shown], strict=True)
    ]
    return TokenLogprob(
        token=text, logprob=chosen_logprob(step), bytes=_utf8(text), top_logprobs=alternatives
    )
