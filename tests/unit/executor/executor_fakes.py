"""A tiny deterministic engine with the reference engine's contract, without torch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from attesta_common.artifact import TopKArtifact
from attesta_common.logprob_grid import to_grid_row
from attesta_common.sampling import choose_token
from attesta_engine.port import (
    Generation,
    GenerationCancelled,
    GenerationSpec,
    PositionScores,
    TokenStep,
)

# Token i reads as VOCAB[i]; 0 is the end of sequence.
VOCAB = ["<eos>", "a", "b", "c", "d", "é"]
TOP_IDS = (1, 2, 3, 4, 5)
TOP_LOGPROBS = (-0.2, -1.9, -2.8, -4.0, -5.5)


class FakeEngine:
    model_name = "SmolLM2-135M-Instruct"
    top_k = 5

    def __init__(self, *, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.threads: set[str] = set()

    def chat_prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return [1] * sum(len(m["content"]) for m in messages)

    def text_prompt_ids(self, prompt: str) -> list[int]:
        return [2] * len(prompt)

    def token_text(self, token_id: int) -> str:
        return VOCAB[token_id]

    def generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        self.threads.add(threading.current_thread().name)
        output: list[int] = []
        for position in range(spec.max_tokens):
            if should_stop is not None and should_stop():
                raise GenerationCancelled
            if position == self.fail_at:
                raise RuntimeError("fake engine failure")
            token = choose_token(
                TOP_IDS, TOP_LOGPROBS, spec.temperature, spec.top_p, spec.seed, position
            )
            output.append(token)
            if on_step is not None:
                on_step(
                    TokenStep(position, token, TOP_IDS, to_grid_row(TOP_LOGPROBS), VOCAB[token])
                )
        artifact = TopKArtifact.build(
            self.top_k, [TOP_IDS] * len(output), [TOP_LOGPROBS] * len(output)
        )
        text = "".join(VOCAB[t] for t in output)
        return Generation(list(spec.prompt_token_ids), output, text, "length", artifact)

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]:
        raise NotImplementedError("executors never score")
