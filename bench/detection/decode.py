"""A batched decode loop over any causal LM: the bench's own executor for model variants.

The reference engine generates one sequence at a time with the real weights; cheats need
the same loop over modified weights, partial cheats need to start at a later sampling
position, and the batch controls need several sequences at once. Prompts are padded on the
left with an attention mask and explicit position ids, so every row sees exactly its own
tokens. Tokens are chosen with `choose_token` from the reported top-k (snapped to the
reporting grid), as the port requires of every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from attesta_common.sampling import choose_token


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    seed: int


@dataclass
class Run:
    """One generated sequence: tokens and the top-k reported at each position."""

    tokens: list[int]
    ids: list[tuple[int, ...]]
    logprobs: list[tuple[float, ...]]

    def __add__(self, other: Run) -> Run:
        return Run(self.tokens + other.tokens, self.ids + other.ids, self.logprobs + other.logprobs)


def decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    samplings: Sequence[Sampling],
    max_tokens: int,
    eos: frozenset[int],
    *,
    top_k: int = 3,
    first_position: int = 0,
) -> list[Run]:
    """Generate up to `max_tokens` per prompt; sampling positions start at `first_position`."""
    with torch.inference_mode():
        return _decode(model, prompts, samplings, max_tokens, eos, top_k, first_position)


def _decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    samplings: Sequence[Sampling],
    max_tokens: int,
    eos: frozenset[int],
    top_k: int,
    first_position: int,
) -> list[Run]:
    width = max(len(p) for p in prompts)
    pad = next(iter(eos))
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    runs = [Run([], [], []) for _ in prompts]
    done = [False] * len(prompts)
    cache = None
    for step in range(max_tokens):
        result = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True
        )
        cache = result.cache
        logprobs = torch.log_softmax(result.logits[:, -1].float(), dim=-1)
        values, indices = torch.topk(logprobs, top_k, dim=-1)
        chosen = []
        for row, (run, s) in enumerate(zip(runs, samplings, strict=True)):
            if done[row]:
                chosen.append(pad)  # finished rows keep feeding a token nobody reads
                continue
            top_ids = tuple(int(i) for i in indices[row].tolist())
            top_lps = tuple(float(v) for v in values[row].tolist())
            token = choose_token(
                top_ids, top_lps, s.temperature, s.top_p, s.seed, first_position + step
            )
            run.tokens.append(token)
            run.ids.append(top_ids)
            run.logprobs.append(top_lps)
            done[row] = token in eos
            chosen.append(token)
        if all(done):
            break
        ids = torch.tensor([[t] for t in chosen], dtype=torch.long)
        mask = torch.cat([mask, torch.ones((len(prompts), 1), dtype=mask.dtype)], dim=-1)
        positions = positions[:, -1:] + 1
    return runs
