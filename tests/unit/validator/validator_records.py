"""Shared helpers for the validator tests: the reference engine, honest generations, and
signed request/finished records built the way an honest gateway and executor build them.

Generations depend only on the engine, not on the per-test keys, so they are made once per
session and signed with each test's keys.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property, lru_cache

import pytest
from attesta_common.artifact import TopKArtifact
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import (
    ChatMessage,
    InferenceFinished,
    InferenceRequested,
    Receipt,
    SamplingParams,
    Usage,
)
from attesta_common.genesis import ModelSpec
from attesta_common.keys import SigningKey
from attesta_common.receipts import make_receipt
from attesta_engine.loader import load_reference_engine
from attesta_engine.port import Generation, GenerationSpec
from attesta_engine.reference import ReferenceEngine

MODEL = ModelSpec(name="SmolLM2-135M-Instruct")
MESSAGES = (
    ChatMessage(role="system", content="You are a poet. Answer with a short poem."),
    ChatMessage(role="user", content="Write about the sea at night."),
)
SHORT_ANSWER = (ChatMessage(role="user", content="What is the capital of France?"),)
NEWLINE_STOP = ["\n"]
MAX_TOKENS = 20
SAMPLED_TEMPERATURE = 0.8
SAMPLED_TOP_P = 0.95
SAMPLED_SEED = 3  # differs from greedy from the 5th token on (top-3 sampling)
GREEDY_SEED = 11


# A one-token generation for tests that never reach the model (admission, handler flow).
TINY_GENERATION = Generation(
    prompt_token_ids=[1, 2, 3],
    output_token_ids=[10],
    text="x",
    finish_reason="length",
    artifact=TopKArtifact.build(3, [[10, 11, 12]], [[-1.0, -2.0, -3.0]]),
)


class Generations:
    """Honest generations of the test prompt, each made on first use and then reused."""

    def __init__(self, engine: ReferenceEngine) -> None:
        self._engine = engine
        self.prompt_ids = engine.chat_prompt_ids(chat_dicts(MESSAGES))

    @cached_property
    def greedy(self) -> Generation:
        return self._engine.generate(
            GenerationSpec(self.prompt_ids, 0.0, 1.0, MAX_TOKENS, GREEDY_SEED)
        )

    @cached_property
    def sampled(self) -> Generation:
        return self._engine.generate(
            GenerationSpec(
                self.prompt_ids, SAMPLED_TEMPERATURE, SAMPLED_TOP_P, MAX_TOKENS, SAMPLED_SEED
            )
        )

    @cached_property
    def until_newline(self) -> Generation:
        """Stopped by the stop sequence "\\n" (the poem's first line)."""
        return self._engine.generate(
            GenerationSpec(self.prompt_ids, 0.0, 1.0, MAX_TOKENS, GREEDY_SEED, NEWLINE_STOP)
        )

    @cached_property
    def short_answer(self) -> Generation:
        """Ended by the model's end-of-sequence token before max_tokens."""
        prompt = self._engine.chat_prompt_ids(chat_dicts(SHORT_ANSWER))
        return self._engine.generate(GenerationSpec(prompt, 0.0, 1.0, MAX_TOKENS, GREEDY_SEED))

    @cached_property
    def without_system(self) -> Generation:
        """What an executor that dropped the system prompt produced (greedy)."""
        user_only = self._engine.chat_prompt_ids(chat_dicts(MESSAGES[1:]))
        return self._engine.generate(GenerationSpec(user_only, 0.0, 1.0, 16, GREEDY_SEED))


def chat_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [m.model_dump(mode="json") for m in messages]


# The unit and the integration folder each register these fixtures; the caches make both
# share one engine and one set of generations per session.
@lru_cache(maxsize=1)
def _shared_engine() -> ReferenceEngine:
    return load_reference_engine(MODEL, threads=2)


@lru_cache(maxsize=1)
def _shared_generations() -> Generations:
    return Generations(_shared_engine())


@pytest.fixture(scope="session")
def engine() -> ReferenceEngine:
    return _shared_engine()


@pytest.fixture(scope="session")
def generations() -> Generations:
    return _shared_generations()


def make_request(
    gateway: SigningKey,
    executor: str,
    *,
    temperature: float,
    top_p: float,
    seed: int,
    max_tokens: int = MAX_TOKENS,
    inference_id: str = "inf-1",
    epoch: int = 0,
    messages: Sequence[ChatMessage] = MESSAGES,
    stop: Sequence[str] = (),
) -> SignedRecord:
    now = int(time.time() * 1000)
    request = InferenceRequested(
        inference_id=inference_id,
        endpoint="chat",
        epoch=epoch,
        model=MODEL.name,
        messages=list(messages),
        sampling=SamplingParams(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            stop=list(stop),
        ),
        account="acct-test",
        executor=executor,
        reserved=1000,
        requested_at_ms=now,
        deadline_ms=now + 60_000,
    )
    return sign_event(request, gateway)


def request_of(record: SignedRecord) -> InferenceRequested:
    return InferenceRequested.model_validate(record.body)


def make_finished(
    executor: SigningKey,
    request_record: SignedRecord,
    generation: Generation,
    *,
    output_ids: Sequence[int] | None = None,
    artifact: TopKArtifact | None = None,
    artifact_b64: str | None = None,
    text: str | None = None,
    finish_reason: str | None = None,
    receipt: Receipt | None = None,
    prompt_ids: Sequence[int] | None = None,
) -> SignedRecord:
    """A finished record as an executor signs it; every part can be overridden by a cheat,
    and the receipt is remade over whatever is reported unless one is given."""
    request = request_of(request_record)
    prompt = list(prompt_ids if prompt_ids is not None else generation.prompt_token_ids)
    output = list(output_ids if output_ids is not None else generation.output_token_ids)
    table = artifact if artifact is not None else generation.artifact
    finished = InferenceFinished(
        inference_id=request.inference_id,
        epoch=request.epoch,
        executor=executor.address,
        request_hash=request_record.hash,
        request=request_record.model_dump(mode="json"),
        prompt_token_ids=prompt,
        output_token_ids=output,
        text=text if text is not None else generation.text,
        finish_reason=finish_reason or generation.finish_reason,  # type: ignore[arg-type]
        usage=Usage(prompt_tokens=len(prompt), completion_tokens=len(output)),
        artifact=artifact_b64 if artifact_b64 is not None else table.encode_b64(),
        receipt=receipt or make_receipt(executor, request, prompt, output, table),
    )
    return sign_event(finished, executor)


def finished_of(record: SignedRecord) -> InferenceFinished:
    return InferenceFinished.model_validate(record.body)


def launder(
    engine: ReferenceEngine,
    prompt_ids: Sequence[int],
    tokens: Sequence[int],
    request: InferenceRequested,
) -> TopKArtifact:
    """An artifact of true model log-probabilities that makes `tokens` replay exactly.

    At each position it reports the wanted token with k - 1 far less likely tokens instead
    of the real top-k, so the reported numbers are the model's own (no distance) and
    `choose_token` picks the wanted token: only the validator's own replay can tell.
    """
    pool = list(range(1000, 1064))
    scores = engine.score(prompt_ids, tokens, [[t, *pool] for t in tokens])
    ids: list[list[int]] = []
    logprobs: list[list[float]] = []
    for token, position in zip(tokens, scores, strict=True):
        wanted, *others = position.lookup_logprobs
        fillers = sorted(zip(others, pool, strict=True))[: MODEL.top_k - 1]  # least likely
        row = sorted([(wanted, token), *fillers], reverse=True)
        assert row[0][1] == token, "the wanted token must lead its forged row"
        ids.append([t for _, t in row])
        logprobs.append([lp for lp, _ in row])
    return TopKArtifact.build(MODEL.top_k, ids, logprobs)


class RecordingRecords:
    """A `RecordSink` that keeps what the handlers publish, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, SignedRecord]] = []

    async def publish(self, subject: str, record: SignedRecord, *, timeout: float = 10.0) -> None:
        self.published.append((subject, record))
