"""Cheats with the real weights: (d) prompt, (e) sampling, (h) cached answers, (i) length.

Prompt cheats report the request's true prompt ids (reporting the tampered ids is caught
by the prompt re-tokenization before any model runs, the weaker cheat).
"""

from __future__ import annotations

import dataclasses

from attesta_common.envelope import SignedRecord

from bench.detection.decode import Sampling
from bench.detection.harness import Harness, sampling_of
from bench.detection.launder import launder
from bench.detection.scenarios_model import Build
from bench.detection.workload import SAMPLED, chat_dicts, sample


def _prompt_cheat(kind: str) -> Build:
    def build(h: Harness, index: int, max_tokens: int) -> SignedRecord:
        request = h.request(sample(index, max_tokens))
        messages = list(request.sample.messages)
        if kind == "system-dropped":
            ran = h.engine.chat_prompt_ids(chat_dicts(messages[1:]))
        elif kind == "context-truncated":
            ran = request.prompt_ids[len(request.prompt_ids) // 2 :]  # keeps only the tail
        else:
            user = messages[-1]
            words = user.content.rstrip(".").split()
            changed = " ".join([*words[:-1], "dragons"]) + "."
            messages[-1] = user.model_copy(update={"content": changed})
            ran = h.engine.chat_prompt_ids(chat_dicts(messages))
        run = h.run(None, ran, sampling_of(request.sample), max_tokens)
        return h.finish(request, run)

    return build


def _sampling_cheat(kind: str) -> Build:
    """The request samples at (0.8, 0.95); the executor runs other parameters."""

    def build(h: Harness, index: int, max_tokens: int) -> SignedRecord:
        request = h.request(sample(index, max_tokens, sampling=SAMPLED))
        t, p, seed = SAMPLED[0], SAMPLED[1], request.sample.seed
        used = {
            "temperature": Sampling(1.2, p, seed),
            "top-p": Sampling(t, 0.5, seed),
            "greedy": Sampling(0.0, 1.0, seed),
            "seed-ignored": Sampling(t, p, 0),
        }[kind]
        run = h.run(None, request.prompt_ids, used, max_tokens)
        return h.finish(request, run)

    return build


def cached_other_prompt(h: Harness, index: int, max_tokens: int) -> SignedRecord:
    """The answer computed for another prompt, re-signed for this request and its prompt."""
    request = h.request(sample(index, max_tokens))
    other = h.request(sample(index + 7, max_tokens))  # another topic
    run = h.run(None, other.prompt_ids, sampling_of(other.sample), max_tokens)
    return h.finish(request, run)


def cached_other_seed(h: Harness, index: int, max_tokens: int) -> SignedRecord:
    """Same prompt and parameters, but the answer was sampled for another seed."""
    request = h.request(sample(index, max_tokens, sampling=SAMPLED))
    stale = dataclasses.replace(request.sample, seed=request.sample.seed + 1)
    run = h.run(None, request.prompt_ids, sampling_of(stale), max_tokens)
    return h.finish(request, run)


def billed_more(h: Harness, index: int, max_tokens: int) -> SignedRecord:
    """Half the tokens generated, the full max_tokens billed."""
    request = h.request(sample(index, max_tokens))
    run = h.run(None, request.prompt_ids, sampling_of(request.sample), max_tokens // 2)
    return h.finish(request, run, finish_reason="length", completion_tokens=max_tokens)


def fake_eos(h: Harness, index: int, max_tokens: int) -> SignedRecord | None:
    """Stops halfway on an end-of-sequence token the model did not choose; the EOS row is
    laundered from the reference model's own numbers so that it replays."""
    request = h.request(sample(index, max_tokens))
    sampling = sampling_of(request.sample)
    head = h.run(None, request.prompt_ids, sampling, max_tokens // 2)
    eos = min(h.engine.eos_token_ids)
    if head.tokens and head.tokens[-1] == eos:
        return None  # the model really ended here: no cheat to make
    tokens = [*head.tokens, eos]
    table = launder(h, request.prompt_ids, tokens, sampling)
    head.tokens = tokens
    return h.finish(request, head, finish_reason="stop", artifact=table)


def scenarios() -> list[tuple[str, str, Build]]:
    return [
        ("prompt-system-dropped", "d", _prompt_cheat("system-dropped")),
        ("prompt-context-truncated", "d", _prompt_cheat("context-truncated")),
        ("prompt-word-changed", "d", _prompt_cheat("word-changed")),
        ("sampling-temperature", "e", _sampling_cheat("temperature")),
        ("sampling-top-p", "e", _sampling_cheat("top-p")),
        ("sampling-greedy", "e", _sampling_cheat("greedy")),
        ("sampling-seed-ignored", "e", _sampling_cheat("seed-ignored")),
        ("cached-other-prompt", "h", cached_other_prompt),
        ("cached-other-seed", "h", cached_other_seed),
        ("length-billed-more", "i", billed_more),
        ("length-fake-eos", "i", fake_eos),
    ]
