"""`StepBuilder.choose_and_add` (one snapping per row) makes the steps that choosing with
`choose_token` and then `add` made (two)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from attesta_common.sampling import choose_token
from attesta_engine.port import GenerationSpec
from attesta_engine.steps import StepBuilder

EOS = frozenset({0})


def _decode(ids: Sequence[int]) -> str:
    return "".join(chr(97 + i % 26) for i in ids if i not in EOS)


def _rows(
    rng: random.Random, count: int, k: int
) -> list[tuple[tuple[int, ...], tuple[float, ...]]]:
    rows = []
    for _ in range(count):
        ids = tuple(rng.sample(range(1, 500), k))
        if rng.random() < 0.05:
            ids = (0, *ids[1:])  # end of sequence on offer
        lps = [rng.uniform(-12, 0) for _ in range(k)]
        if rng.random() < 0.8:
            lps.sort(reverse=True)
        if k > 1 and rng.random() < 0.2:
            lps[1] = lps[0]  # a tie
        rows.append((ids, tuple(lps)))
    return rows


def test_choosing_while_adding_is_choosing_then_adding() -> None:
    rng = random.Random(12)
    for case in range(300):
        k = rng.randrange(1, 6)
        spec = GenerationSpec(
            [1, 2],
            rng.choice((0.0, 0.0, 0.5, 1.0, 1.7)),
            rng.choice((1.0, 0.9, 0.5)),
            rng.randrange(1, 40),
            rng.randrange(1 << 40),
            stop=rng.choice(([], ["ab"])),
        )
        rows = _rows(rng, spec.max_tokens, k)
        old = StepBuilder(spec, k, EOS, _decode)
        new = StepBuilder(spec, k, EOS, _decode)
        for ids, lps in rows:
            if old.done:
                break
            position = len(old.output)
            token = choose_token(ids, lps, spec.temperature, spec.top_p, spec.seed, position)
            assert new.choose_and_add(ids, lps) == old.add(token, ids, lps), case
            assert new.done == old.done
        before, after = old.result(), new.result()
        assert after == before
        assert after.artifact.encode() == before.artifact.encode()
