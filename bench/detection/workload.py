"""The requests the benchmark sends: varied prompts and sampling, long enough answers.

Prompts ask for long prose so that honest answers run to max_tokens (64 in the numbers)
instead of ending early on EOS; the sampling mix covers greedy, typical and hot sampling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import ChatMessage, InferenceRequested, SamplingParams
from attesta_common.keys import SigningKey

MODEL_NAME = "SmolLM2-135M-Instruct"

_SYSTEMS = (
    "You are a helpful assistant. Answer in full sentences and give concrete details.",
    "You are a storyteller who writes vivid, long paragraphs for curious readers.",
    "You are a patient teacher. Explain step by step and use a simple example.",
)
_TASKS = (
    "Write a long story about",
    "Explain in detail how to think about",
    "Describe, paragraph by paragraph,",
    "Write a letter to a friend about",
)
_TOPICS = (
    "a lighthouse keeper during a winter storm",
    "the water cycle and why it matters for farmers",
    "a small robot that learns to paint",
    "the history of bread in a mountain village",
    "planning a long bicycle trip across a country",
    "a city garden that grows on old rooftops",
    "how a library could work on the moon",
    "the first day at a new school by the sea",
    "a cat who guards a bakery at night",
    "building a wooden boat with your grandfather",
)
# (temperature, top_p): greedy, typical, plain, nucleus, hot.
SAMPLINGS = ((0.0, 1.0), (0.8, 0.95), (1.0, 1.0), (0.7, 0.9), (1.3, 1.0))
SAMPLED = (0.8, 0.95)


@dataclass(frozen=True)
class Sample:
    """One request of the benchmark, fully determined by its index."""

    index: int
    messages: tuple[ChatMessage, ...]
    temperature: float
    top_p: float
    seed: int
    max_tokens: int

    @property
    def inference_id(self) -> str:
        return f"bench-{self.index}"


def sample(index: int, max_tokens: int, *, sampling: tuple[float, float] | None = None) -> Sample:
    system = _SYSTEMS[index % len(_SYSTEMS)]
    task = _TASKS[(index // 3) % len(_TASKS)]
    topic = _TOPICS[(index // 7) % len(_TOPICS)]
    temperature, top_p = sampling or SAMPLINGS[index % len(SAMPLINGS)]
    # A 63-bit seed that differs per index, as the gateway draws one per request.
    seed = (index * 0x9E3779B97F4A7C15 + 12345) % (1 << 63)
    messages = (
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=f"{task} {topic}."),
    )
    return Sample(index, messages, temperature, top_p, seed, max_tokens)


def make_request(gateway: SigningKey, executor: str, s: Sample) -> SignedRecord:
    """The request record exactly as the gateway signs it."""
    now = int(time.time() * 1000)
    request = InferenceRequested(
        inference_id=s.inference_id,
        endpoint="chat",
        epoch=0,
        model=MODEL_NAME,
        messages=list(s.messages),
        sampling=SamplingParams(
            temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed
        ),
        account="acct-bench",
        executor=executor,
        reserved=10_000,
        requested_at_ms=now,
        deadline_ms=now + 600_000,
    )
    return sign_event(request, gateway)


def chat_dicts(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> list[dict[str, str]]:
    return [m.model_dump(mode="json") for m in messages]
