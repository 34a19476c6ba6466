"""The engine port: what executors and validators need from a model runtime.

Engines are synchronous and run in a worker thread; the services wrap them. Engines that
batch concurrent requests (vLLM's async engine) also offer `generate_async`, so a service
can have many generations in flight at once without a thread for each. The adapters: the
CPU reference engine (transformers) and vLLM. Both must report the raw
model log-probabilities (before temperature, top-p or any processor) and pick tokens with
`attesta_common.sampling.choose_token` from exactly the numbers they report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from attesta_common.artifact import TopKArtifact

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class GenerationSpec:
    prompt_token_ids: list[int]
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    stop: list[str] = field(default_factory=list)
    # Whether each step carries its new text. A caller that only reads the whole answer
    # (a request not streamed) sets it false, and unless a stop sequence has to be looked
    # for, the output is decoded once at the end rather than at every token.
    step_text: bool = True


class TokenStep(NamedTuple):
    """One generated position: the chosen token, the reported top-k and new visible text.

    A named tuple, not a frozen dataclass: one is made per token, and a frozen dataclass
    takes four times as long to build (15 us of a 23-token answer)."""

    position: int
    token_id: int
    topk_ids: tuple[int, ...]
    topk_logprobs: tuple[float, ...]
    text_delta: str


@dataclass(frozen=True)
class Generation:
    prompt_token_ids: list[int]
    output_token_ids: list[int]
    text: str
    finish_reason: FinishReason
    artifact: TopKArtifact


@dataclass(frozen=True)
class PositionScores:
    """The engine's own view of one output position in a teacher-forced pass."""

    topk_ids: tuple[int, ...]
    topk_logprobs: tuple[float, ...]
    lookup_logprobs: tuple[float, ...]


class GenerationCancelled(Exception):
    """`should_stop` asked the engine to abandon a generation."""


class Engine(Protocol):
    model_name: str
    top_k: int
    # Tokens that end a generation: finish_reason 'stop' must end on one (or on a stop
    # sequence), and none may appear earlier in the output.
    eos_token_ids: frozenset[int]

    @property
    def vocab_size(self) -> int: ...

    def decode(self, token_ids: Sequence[int]) -> str: ...

    def chat_prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]: ...

    def text_prompt_ids(self, prompt: str) -> list[int]: ...

    def token_text(self, token_id: int) -> str: ...

    def generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation: ...

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]:
        """Teacher-forced: one pass over prompt + output; per output position the own top-k
        and the log-probabilities of `lookup_ids[position]`."""
        ...


@runtime_checkable
class ConcurrentEngine(Protocol):
    """An engine that batches concurrent generations: many may be awaited at once.

    `on_step` is called on the engine's own thread, in order, like `generate`'s."""

    async def generate_async(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation: ...
