"""`python -m bench.detection.codec_study`: how small can a top-k artifact get at rest?

Generates real honest artifacts (the bench decode loop, batch 16, 64-token answers; COUNT,
default 48), then measures bytes per token of the log-probabilities and of the ids under
several layouts, with the log-probs coded as ATA2 codes them (F fraction bits of
log2(-lp), ranks as steps; ATA2 is F = 16) and split into a deflated high part and raw
low bytes (the low bits are noise to a compressor). Ids: `plain` (varints), `chosen`
(the rank of the output token, which the record stores anyway, instead of its id), `mtf`
(`chosen`, and the other ids as move-to-front indexes over recently seen ids). Also the
same with only the first 3 ranks kept (k = 3, genesis' default since ATA2). The shift is
measured from the engine's raw numbers. Prints a table and one JSON line.
"""

from __future__ import annotations

import itertools
import json
import lzma
import math
import os
import sys
from collections.abc import Sequence

import torch
from attesta_common.artifact import TopKArtifact
from attesta_common.artifact_ata2 import write_varint, zigzag
from attesta_validator.distance import gonka_distance

from bench.detection.harness import Harness
from bench.detection.honest import batch_runs
from bench.detection.workload import sample

THRESHOLD = 2e-4
_MTF_SIZE = 1024
_TINY = 2.0**-60


def _code(lp: float, frac_bits: int) -> int:
    return round(math.log2(max(-lp, _TINY)) * (1 << frac_bits))


def _decoded(lp: float, frac_bits: int) -> float:
    return -float(2.0 ** (_code(lp, frac_bits) / (1 << frac_bits)))


def _varint(value: int) -> bytearray:
    out = bytearray()
    write_varint(value, out)
    return out


def _lzma(data: bytes) -> int:
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9}]
    return len(lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters))


def _id_stream(tokens: Sequence[int], artifact: TopKArtifact, k: int, mode: str) -> bytes:
    out, recent = bytearray(), list[int]()
    for position, row in enumerate(artifact.token_ids):
        ids = row[:k]
        chosen = tokens[position]
        if mode == "plain":
            for token in ids:
                out += _varint(token)
            continue
        out.append(ids.index(chosen) if chosen in ids else k)
        for token in (t for t in ids if t != chosen):
            if mode == "mtf" and token in recent:
                out += _varint(recent.index(token))
                recent.remove(token)
            else:
                out += _varint(_MTF_SIZE + token if mode == "mtf" else token)
            if mode == "mtf":
                recent.insert(0, token)
        if mode == "mtf":
            if chosen in recent:
                recent.remove(chosen)
            recent.insert(0, chosen)
            del recent[_MTF_SIZE:]
    return bytes(out)


def _logprob_bytes(artifact: TopKArtifact, k: int, frac_bits: int) -> int:
    high, low = bytearray(), bytearray()
    for row in artifact.logprobs:
        codes = [_code(lp, frac_bits) for lp in row[:k]]
        steps = [zigzag(codes[0])]
        steps += [max(0, b - a) for a, b in itertools.pairwise(codes)]
        for value in steps:
            high += _varint(value >> 8)
            low.append(value & 0xFF)
    return _lzma(bytes(high)) + len(low)


def _artifacts(count: int) -> list[tuple[list[int], TopKArtifact]]:
    """Output tokens and a table of the engine's raw (not grid) numbers, 5 ranks."""
    h = Harness(threads=torch.get_num_threads(), top_k=5)
    out = []
    for start in range(0, count, 16):
        requests = [h.request(sample(700_000 + start + i, 64)) for i in range(16)]
        runs, _ = batch_runs(h, requests)
        out += [(list(r.tokens), TopKArtifact(5, tuple(r.ids), tuple(r.logprobs))) for r in runs]
        print(f"generated {len(out)}/{count}", file=sys.stderr)
    return out


def main() -> None:
    data = _artifacts(int(os.environ.get("COUNT", "48")))
    tokens = sum(len(t) for t, _ in data)
    results = {}
    for k in (5, 3):
        for frac_bits in (14, 15, 16):
            shift = max(
                gonka_distance(
                    [r[:k] for r in a.logprobs],
                    [[_decoded(lp, frac_bits) for lp in r[:k]] for r in a.logprobs],
                )
                for _, a in data
            )
            logprobs = sum(_logprob_bytes(a, k, frac_bits) for _, a in data) / tokens
            for mode in ("plain", "chosen", "mtf"):
                ids = sum(_lzma(_id_stream(t, a, k, mode)) for t, a in data) / tokens
                results[f"k{k}_f{frac_bits}_{mode}"] = {
                    "bytes_per_token": round(logprobs + ids, 2),
                    "logprob_bytes": round(logprobs, 2),
                    "id_bytes": round(ids, 2),
                    "max_shift_over_threshold": round(shift / THRESHOLD, 4),
                }
    print("| layout | B/token | log-probs | ids | worst shift / threshold |", file=sys.stderr)
    print("|---|---|---|---|---|", file=sys.stderr)
    for name, r in results.items():
        print(
            f"| {name} | {r['bytes_per_token']} | {r['logprob_bytes']} | {r['id_bytes']} "
            f"| {r['max_shift_over_threshold']:.2%} |",
            file=sys.stderr,
        )
    print(json.dumps({"artifacts": len(data), "tokens": tokens, "layouts": results}))


if __name__ == "__main__":
    main()
