"""The prompts and sampling modes of the contract suite, and generations memoized per
engine so the slow CPU engines generate each case once per session."""

from __future__ import annotations

from attesta_engine.port import Engine, Generation, GenerationSpec

PROMPT = [{"role": "user", "content": "Name three rivers in Europe."}]
MODES = {"greedy": (0.0, 1.0), "sampled": (0.8, 0.95)}
TOKENS = 16
# The two engines' log-probs at float32 differ by about 6e-5 (measured); same-engine
# re-scoring by less.
LOGPROB_TOLERANCE = 1e-4


def spec_for(
    engine: Engine, mode: str, *, stop: tuple[str, ...] = (), seed: int = 11
) -> GenerationSpec:
    temperature, top_p = MODES[mode]
    ids = engine.chat_prompt_ids(PROMPT)
    return GenerationSpec(ids, temperature, top_p, TOKENS, seed, list(stop))


_memo: dict[tuple[int, str], Generation] = {}


def generated(engine: Engine, mode: str) -> Generation:
    key = (id(engine), mode)
    if key not in _memo:
        _memo[key] = engine.generate(spec_for(engine, mode))
    return _memo[key]
