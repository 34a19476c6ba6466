"""`StepBuilder.choose_and_add` (one snapping per row) makes the steps that choosing with
`choose_token` and then `add` made (two); steps without text (`step_text` false) end the
same answer as steps with it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

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


def test_steps_without_text_make_the_same_generation() -> None:
    rng = random.Random(34)
    textless_cases = 0
    for case in range(300):
        k = rng.randrange(1, 6)
        spec = GenerationSpec(
            [1, 2],
            rng.choice((0.0, 0.5, 1.0)),
            1.0,
            rng.randrange(1, 40),
            rng.randrange(1 << 40),
            stop=rng.choice(([], [], ["ab"])),
        )
        additive = rng.random() < 0.5
        with_text = StepBuilder(spec, k, EOS, _decode, additive_decode=additive)
        without = StepBuilder(
            replace(spec, step_text=False), k, EOS, _decode, additive_decode=additive
        )
        for ids, lps in _rows(rng, spec.max_tokens, k):
            if with_text.done:
                break
            step, bare = with_text.choose_and_add(ids, lps), without.choose_and_add(ids, lps)
            assert without.done == with_text.done, case
            if spec.stop:
                assert bare == step  # a stop sequence needs the text at every token
            else:
                assert bare == step._replace(text_delta="")
        assert without.done
        expected, got = with_text.result(), without.result()
        assert got == expected, case
        assert got.artifact.encode() == expected.artifact.encode()
        textless_cases += not spec.stop
    assert textless_cases > 100


def test_steps_without_text_decode_the_output_once() -> None:
    calls: list[int] = []

    def counting(ids: Sequence[int]) -> str:
        calls.append(len(ids))
        return _decode(ids)

    spec = GenerationSpec([1], 0.0, 1.0, 10, 7, step_text=False)
    steps = StepBuilder(spec, 1, EOS, counting, additive_decode=True)
    for token in range(1, 11):
        steps.add(token, (token,), (-0.5,))
    assert steps.result().text == _decode(range(1, 11))
    assert calls == [10]
