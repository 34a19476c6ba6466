"""Cheats that run other weights: (a) dropped layers, (b) coarser weights, (c) another model,
(f) laundering and (j) partial cheating."""

from __future__ import annotations

from collections.abc import Callable

from attesta_common.envelope import SignedRecord

from bench.detection.harness import Harness, sampling_of
from bench.detection.launder import launder
from bench.detection.workload import sample

# None: the cheat did not apply to this sample (e.g. the honest part already ended on EOS),
# so nothing dishonest was sent and the sample is not counted.
Build = Callable[[Harness, int, int], SignedRecord | None]

# The cheap model a launderer or a partial cheat uses for the tokens it does not pay for.
LAUNDER_VARIANT = "drop-4"
PARTIAL_VARIANT = "int4"


def variant_run(variant: str) -> Build:
    """The whole answer from the variant, reported as is: numbers and tokens its own."""

    def build(h: Harness, index: int, max_tokens: int) -> SignedRecord:
        request = h.request(sample(index, max_tokens))
        model = h.variants.get(variant)
        run = h.run(model, request.prompt_ids, sampling_of(request.sample), max_tokens)
        return h.finish(request, run)

    return build


def laundered(h: Harness, index: int, max_tokens: int) -> SignedRecord:
    """The variant writes the tokens; the reference model's scores supply the artifact."""
    request = h.request(sample(index, max_tokens))
    sampling = sampling_of(request.sample)
    run = h.run(h.variants.get(LAUNDER_VARIANT), request.prompt_ids, sampling, max_tokens)
    table = launder(h, request.prompt_ids, run.tokens, sampling)
    return h.finish(request, run, artifact=table)


def partial(h: Harness, index: int, max_tokens: int) -> SignedRecord | None:
    """An honest first half, then the cheap variant continues from the honest prefix at the
    right sampling positions."""
    request = h.request(sample(index, max_tokens))
    sampling = sampling_of(request.sample)
    half = max_tokens // 2
    head = h.run(None, request.prompt_ids, sampling, half)
    if head.tokens and head.tokens[-1] in h.engine.eos_token_ids:
        return None
    tail = h.run(
        h.variants.get(PARTIAL_VARIANT),
        [*request.prompt_ids, *head.tokens],
        sampling,
        max_tokens - half,
        first_position=half,
    )
    return h.finish(request, head + tail)


def scenarios() -> list[tuple[str, str, Build]]:
    return [
        ("layers-dropped-1", "a", variant_run("drop-1")),
        ("layers-dropped-2", "a", variant_run("drop-2")),
        ("layers-dropped-4", "a", variant_run("drop-4")),
        ("quantized-8bit", "b", variant_run("int8")),
        ("quantized-4bit", "b", variant_run("int4")),
        ("quantized-3bit", "b", variant_run("int3")),
        ("quantized-2bit", "b", variant_run("int2")),
        ("weights-perturbed-0.1%", "c", variant_run("noise-0.1%")),
        ("layers-swapped", "c", variant_run("swap-layers")),
        ("laundered-drop-4", "f", laundered),
        ("partial-int4-suffix", "j", partial),
    ]
