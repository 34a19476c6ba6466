"""OpenAI logprobs shaping from a reported top-k step."""

from __future__ import annotations

import pytest
from attesta_engine.port import TokenStep
from attesta_executor.logprobs import chosen_logprob, token_logprob
from executor_fakes import TOP_IDS, TOP_LOGPROBS, VOCAB


def text(token: int) -> str:
    return VOCAB[token]


def test_chosen_token_carries_its_reported_logprob_and_utf8_bytes() -> None:
    step = TokenStep(0, 5, TOP_IDS, TOP_LOGPROBS, "é")
    shaped = token_logprob(step, 2, text)
    assert shaped.token == "é"
    assert shaped.logprob == TOP_LOGPROBS[4]
    assert shaped.bytes == [0xC3, 0xA9]
    assert [(t.token, t.logprob) for t in shaped.top_logprobs] == [
        ("a", TOP_LOGPROBS[0]),
        ("b", TOP_LOGPROBS[1]),
    ]
    assert shaped.top_logprobs[0].bytes == [ord("a")]


@pytest.mark.parametrize(("asked", "shown"), [(0, 0), (3, 3), (5, 5), (20, 5)])
def test_alternatives_are_capped_by_the_reported_k(asked: int, shown: int) -> None:
    step = TokenStep(3, 1, TOP_IDS, TOP_LOGPROBS, "a")
    assert len(token_logprob(step, asked, text).top_logprobs) == shown


def test_a_token_outside_its_top_k_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in its reported top-k"):
        chosen_logprob(TokenStep(7, 0, TOP_IDS, TOP_LOGPROBS, ""))
