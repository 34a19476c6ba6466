"""A test engine that answers at once: no model, only the reference tokenizer.

It exists to measure what the network itself costs (gateway, JetStream, executor, records)
with the engine's time taken out. Its answers are a fixed sentence made of real tokenizer
ids, and every position reports a well-formed top-k from which the token is then chosen
with `choose_token` (in `StepBuilder.choose_and_add`), exactly as a real engine must, so
records replay and stay valid for anything that checks their structure. It is awaited as
a `ConcurrentEngine`, like the production engine (vLLM). `score` reports the same
distribution it generated from, so a validator running on this engine would find a
distance of zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attesta_common.logprob_grid import to_grid, to_grid_row
from transformers import AutoTokenizer

from attesta_engine.port import (
    Generation,
    GenerationCancelled,
    GenerationSpec,
    PositionScores,
    TokenStep,
)
from attesta_engine.steps import StepBuilder
from attesta_engine.tokenization import Tokenization

ANSWER = (
    "The lighthouse keeper climbed the stairs every evening, lit the lamp and watched"
    " the ships pass safely through the night."
)
# The chosen token leads its top-k by far; the others share the tail. Any fixed numbers
# would do, as long as they are descending, finite and the same in `generate` and `score`;
# on the reporting grid (`attesta_common.logprob_grid`), so `score` gives exactly the
# artifact's numbers.
_LEAD_LOGPROB = to_grid(-0.0625)
_TAIL_LOGPROBS = to_grid_row((-4.0, -5.0, -6.0, -7.0, -8.0, -9.0, -10.0, -11.0))
# What `score` reports for a token outside the top-k: far below the tail.
_FLOOR_LOGPROB = -30.0


class InstantEngine(Tokenization):
    """The `Engine` port with no forward pass: the answer's tokens are emitted at once."""

    def __init__(
        self, tokenizer_dir: Path, *, model_name: str, top_k: int = 3, answer: str = ANSWER
    ) -> None:
        if not 1 <= top_k <= len(_TAIL_LOGPROBS) + 1:
            raise ValueError(f"top_k must be 1..{len(_TAIL_LOGPROBS) + 1}")
        self.model_name = model_name
        self.top_k = top_k
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        self.eos_token_ids = frozenset({int(self._tokenizer.eos_token_id)})
        self._answer = [int(t) for t in self._tokenizer.encode(answer, add_special_tokens=False)]
        # Alternatives for the tail of each top-k: answer tokens (never end-of-sequence, so
        # a sampled choice cannot end the answer early or put EOS mid-output).
        self._fillers = [t for t in dict.fromkeys(self._answer) if t not in self.eos_token_ids]
        if len(self._fillers) < top_k:
            raise ValueError("the answer has too few distinct tokens for this top_k")
        # Every position's distribution, made once: the engine is to take no time.
        self._rows = [self._row(lead) for lead in self._answer]
        self._rows.append(self._row(min(self.eos_token_ids)))

    @property
    def vocab_size(self) -> int:
        return len(self._tokenizer)

    def _row(self, lead: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
        tail = [t for t in self._fillers if t != lead][: self.top_k - 1]
        return (lead, *tail), (_LEAD_LOGPROB, *_TAIL_LOGPROBS[: self.top_k - 1])

    def topk_at(self, position: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The distribution at `position`: the answer's token first (EOS once it is over)."""
        return self._rows[min(position, len(self._answer))]

    def generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        steps = StepBuilder(
            spec, self.top_k, self.eos_token_ids, self.decode, additive_decode=self.additive_decode
        )
        while not steps.done:
            if should_stop is not None and should_stop():
                raise GenerationCancelled
            step = steps.choose_and_add(*self.topk_at(len(steps.output)))
            if on_step is not None:
                on_step(step)
        return steps.result()

    async def generate_async(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        """Awaited like vLLM's engine (a `ConcurrentEngine`), the one executors run in
        production, rather than on the reference engine's worker thread: an answer that
        takes no time is made on the event loop, without two thread handoffs."""
        return self.generate(spec, on_step, should_stop)

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]:
        scores = []
        for position in range(len(output_ids)):
            ids, lps = self.topk_at(position)
            known = dict(zip(ids, lps, strict=True))
            wanted = lookup_ids[position] if position < len(lookup_ids) else ()
            looked = tuple(known.get(int(t), _FLOOR_LOGPROB) for t in wanted)
            scores.append(PositionScores(ids, lps, looked))
        return scores
