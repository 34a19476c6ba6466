"""(g) Forged artifacts: real tokens from the reference model, a made-up top-k table."""

from __future__ import annotations

import random
from collections.abc import Callable

from attesta_common.artifact import TopKArtifact
from attesta_common.envelope import SignedRecord

from bench.detection.decode import Run
from bench.detection.harness import Harness, Request, sampling_of
from bench.detection.scenarios_model import Build
from bench.detection.workload import sample

Forge = Callable[[Harness, Request, Run, random.Random], TopKArtifact | None]


def _random(h: Harness, request: Request, run: Run, rng: random.Random) -> TopKArtifact:
    """Made-up ids around the chosen token and made-up descending log-probabilities."""
    k, ids, lps = h.model.top_k, [], []
    for token in run.tokens:
        others = [t for t in rng.sample(range(h.engine.vocab_size), k + 1) if t != token]
        row = others[: k - 1]
        row.insert(rng.randrange(k), token)
        ids.append(row)
        lps.append(sorted((-rng.expovariate(0.5) for _ in range(k)), reverse=True))
    return TopKArtifact.build(k, ids, lps)


def _perturbed(h: Harness, request: Request, run: Run, rng: random.Random) -> TopKArtifact:
    """The real numbers, each moved by about 1% (rows re-sorted so they stay well-formed)."""
    ids, lps = [], []
    for row_ids, row_lps in zip(run.ids, run.logprobs, strict=True):
        moved = [
            (min(lp * (1 + rng.gauss(0.0, 0.01)), 0.0), t)
            for t, lp in zip(row_ids, row_lps, strict=True)
        ]
        moved.sort(reverse=True)
        ids.append([t for _, t in moved])
        lps.append([lp for lp, _ in moved])
    return TopKArtifact.build(h.model.top_k, ids, lps)


def _copied(h: Harness, request: Request, run: Run, rng: random.Random) -> TopKArtifact | None:
    """The artifact of another request (another prompt), attached unchanged.

    None when the donor's table is the honest one (it cannot be under another prompt, but
    a greedy donor under the same prompt would be): then nothing dishonest was sent.
    """
    donor_request = h.request(sample(rng.randrange(10_000, 20_000), len(run.tokens)))
    donor = h.run(
        None, donor_request.prompt_ids, sampling_of(donor_request.sample), len(run.tokens)
    )
    if list(donor.ids) == list(run.ids) and list(donor.logprobs) == list(run.logprobs):
        return None
    return TopKArtifact.build(h.model.top_k, donor.ids, donor.logprobs)


def _edit_middle(run: Run, edit: Callable[[list[int], list[float], int], None]) -> TopKArtifact:
    ids = [list(r) for r in run.ids]
    lps = [list(r) for r in run.logprobs]
    middle = len(run.tokens) // 2
    edit(ids[middle], lps[middle], run.tokens[middle])
    return TopKArtifact.build(len(ids[0]), ids, lps)


def _inconsistent(h: Harness, request: Request, run: Run, rng: random.Random) -> TopKArtifact:
    """One row whose log-probabilities are out of order (ascending)."""
    return _edit_middle(run, lambda ids, lps, token: lps.reverse())


def _token_missing(h: Harness, request: Request, run: Run, rng: random.Random) -> TopKArtifact:
    """One row from which the chosen token was replaced by another id."""

    def edit(ids: list[int], lps: list[float], token: int) -> None:
        replacement = next(t for t in range(token + 1, token + 10) if t not in ids)
        ids[ids.index(token)] = replacement

    return _edit_middle(run, edit)


def _forged(forge: Forge) -> Build:
    def build(h: Harness, index: int, max_tokens: int) -> SignedRecord | None:
        request = h.request(sample(index, max_tokens))
        run = h.run(None, request.prompt_ids, sampling_of(request.sample), max_tokens)
        table = forge(h, request, run, random.Random(index))
        return None if table is None else h.finish(request, run, artifact=table)

    return build


def scenarios() -> list[tuple[str, str, Build]]:
    return [
        ("artifact-random", "g", _forged(_random)),
        ("artifact-perturbed-1%", "g", _forged(_perturbed)),
        ("artifact-copied", "g", _forged(_copied)),
        ("artifact-topk-inconsistent", "g", _forged(_inconsistent)),
        ("artifact-token-missing", "g", _forged(_token_missing)),
    ]
