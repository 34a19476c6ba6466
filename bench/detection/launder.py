"""Laundering: true reference log-probabilities arranged so that chosen tokens replay.

At every position where the reference model's own top-k already picks the token, the
launderer reports that real row unchanged. Elsewhere it reports the token with the four
least likely tokens of a fixed pool, all with their true reference log-probabilities, so
the row is well-formed, the Gonka distance is ~0 and the replay from the reported numbers
picks the token. Only the validator's replay from its own distribution can object.
"""

from __future__ import annotations

from collections.abc import Sequence

from attesta_common.artifact import TopKArtifact
from attesta_common.sampling import choose_token

from bench.detection.decode import Sampling
from bench.detection.harness import Harness

_POOL = range(1000, 1070)


def launder(
    h: Harness, prompt_ids: Sequence[int], tokens: Sequence[int], sampling: Sampling
) -> TopKArtifact:
    pools = [[i for i in _POOL if i != t][:64] for t in tokens]
    scores = h.engine.score(
        prompt_ids, tokens, [[t, *pool] for t, pool in zip(tokens, pools, strict=True)]
    )
    ids: list[tuple[int, ...]] = []
    logprobs: list[tuple[float, ...]] = []
    for position, (token, own, pool) in enumerate(zip(tokens, scores, pools, strict=True)):
        real = choose_token(
            own.topk_ids,
            own.topk_logprobs,
            sampling.temperature,
            sampling.top_p,
            sampling.seed,
            position,
        )
        if real == token:
            ids.append(own.topk_ids)
            logprobs.append(own.topk_logprobs)
            continue
        wanted, *others = own.lookup_logprobs
        fillers = sorted(zip(others, pool, strict=True))[: h.model.top_k - 1]
        row = sorted([(wanted, token), *fillers], reverse=True)
        ids.append(tuple(t for _, t in row))
        logprobs.append(tuple(lp for lp, _ in row))
    return TopKArtifact.build(h.model.top_k, ids, logprobs)
