"""How far each cheat was from passing, and the miss rate that margin implies.

Counting alone bounds detection weakly: n of n caught gives a 95% lower bound of
n / (n + 3.84), so ">= 99.9% per inference" would need about 3,840 cheats per scenario.
But a check fires on several signals at once, each with a margin that is measured on every
sample: the Gonka distance over its threshold, the positions whose token is not the choice
from the reported top-k, the positions whose token is not the validator's own choice. A
cheat is missed only if every signal is silent, so the miss probability is at most the
smallest of the per-signal silence probabilities. Each is estimated from the samples with
an explicit model (stated in the docs, and in each function below):

- distance: log(distance / threshold) is fitted with a normal; silent means ratio <= 1.
- position counts: a negative binomial fitted by moments (a Poisson where the counts are
  not over-dispersed); silent means a count of 0. The over-dispersion absorbs
  inferences that differ in how many positions a cheat moves (short, near-greedy answers).

- one cheated position (the fake end-of-sequence): the count model does not apply to a
  single position. There the cheater's choice does not depend on that position's draw,
  which the PRF makes uniform and independent of every earlier one, so the validator's
  replay stays silent with exactly the probability that a fresh draw lands on the
  reported token under its own distribution (plus the tolerance band); the estimate is
  that probability averaged over the samples.

Structure failures are rules (a reversed row, a missing token, billed tokens that were not
generated) that reject every record with that property; a scenario whose every sample
broke one is reported as caught by rule rather than given a fitted estimate.

The bench computes every signal, even where the validator's check stops at the first
failure, by scoring the answer with the reference engine whatever the artifact says.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from attesta_common.artifact import ArtifactError
from attesta_common.events import SamplingParams
from attesta_common.sampling import sampling_probabilities
from attesta_engine.port import PositionScores
from attesta_validator.admission import admit_finished
from attesta_validator.distance import gonka_distance
from attesta_validator.replay import replay_own, replay_reported
from attesta_validator.structure import decode_artifact

from bench.detection.harness import Harness, Verdict

# Fewer samples than this give no fitted estimate (a spread needs a few points).
MIN_SAMPLES = 5
# Scenarios that cheat on the last position only, whatever that position's draw.
LAST_TOKEN_CHEATS = frozenset({"length-fake-eos"})


@dataclass(frozen=True)
class Evidence:
    """Every signal of one checked cheat, not only the first that failed."""

    structure_failed: bool
    reported_mismatches: int | None  # None: the artifact cannot be replayed at all
    own_mismatches: int | None  # None: the answer cannot be scored
    distance_ratio: float | None  # Gonka distance over the model's threshold
    # P(a fresh draw at the last position makes the validator's replay accept its token)
    last_accept: float | None = None


def gather(h: Harness, verdict: Verdict, raw: bytes) -> Evidence:
    """Every signal of a checked record (the verdict says whether a structure rule broke;
    the rest is measured here)."""
    admitted = admit_finished(raw, h.genesis)
    finished, request = admitted.finished, admitted.request
    structure_failed = not verdict.structure_ok
    output = finished.output_token_ids
    try:
        _, artifact = decode_artifact(finished.artifact, len(output))
    except ArtifactError:
        return Evidence(True, None, None, None)
    shaped = artifact.positions == len(output) and artifact.k == h.model.top_k
    if not shaped or any(not 0 <= t < h.engine.vocab_size for t in output):
        return Evidence(True, None, None, None)
    replayable = all(t in ids for ids, t in zip(artifact.token_ids, output, strict=True))
    reported = len(replay_reported(artifact, output, request.sampling)) if replayable else None
    scores = h.engine.score(finished.prompt_token_ids, output, artifact.token_ids)
    own = replay_own(scores, output, request.sampling, h.model.replay_tolerance)
    distance = gonka_distance([s.lookup_logprobs for s in scores], artifact.logprobs)
    return Evidence(
        structure_failed,
        reported,
        len(own.mismatches),
        distance / h.model.distance_threshold,
        accept_probability(scores[-1], output[-1], request.sampling, h.model.replay_tolerance)
        if output
        else None,
    )


def accept_probability(
    own: PositionScores, token: int, sampling: SamplingParams, tolerance: float
) -> float:
    """Over a uniform draw, the chance that the own replay accepts `token` here: its own
    mass, plus the tolerance band either side of each boundary (an upper bound)."""
    if token not in own.topk_ids:
        return 0.0
    index = own.topk_ids.index(token)
    if sampling.temperature <= 0.0:
        return 1.0 if max(own.topk_logprobs) - own.topk_logprobs[index] < tolerance else 0.0
    probs = sampling_probabilities(own.topk_logprobs, sampling.temperature, sampling.top_p)
    boundaries = sum(p > 0 for p in probs) - 1
    return min(1.0, probs[index] + 2 * tolerance * boundaries)


def silent_distance(ratios: Sequence[float]) -> float | None:
    """P(distance <= threshold) under a normal fit of log(ratio)."""
    if len(ratios) < MIN_SAMPLES or any(r <= 0 for r in ratios):
        return None
    logs = [math.log(r) for r in ratios]
    mean, sd = statistics.fmean(logs), statistics.stdev(logs)
    if sd == 0:
        return 0.0 if mean > 0 else 1.0
    return 0.5 * math.erfc(mean / (sd * math.sqrt(2)))


def silent_count(counts: Sequence[int]) -> float | None:
    """P(count == 0) under a negative binomial fitted by moments (Poisson if the variance
    does not exceed the mean)."""
    if len(counts) < MIN_SAMPLES:
        return None
    mean, var = statistics.fmean(counts), statistics.variance(counts)
    if mean == 0:
        return 1.0
    if var <= mean:
        return math.exp(-mean)
    size = mean * mean / (var - mean)
    return math.exp(size * math.log(size / (size + mean)))


@dataclass(frozen=True)
class MissEstimate:
    by_rule: bool  # every sample broke a structure rule
    silent: dict[str, float | None]  # signal -> fitted probability that it stays silent
    miss: float | None  # the smallest of them: a bound on all staying silent


def estimate(evidence: Sequence[Evidence], *, last_token_only: bool = False) -> MissEstimate:
    by_rule = bool(evidence) and all(e.structure_failed for e in evidence)
    ratios = [e.distance_ratio for e in evidence]
    reported = [e.reported_mismatches for e in evidence]
    own = [e.own_mismatches for e in evidence]
    silent = {
        # A signal that could not be measured on some sample is not fitted at all.
        "distance": silent_distance([r for r in ratios if r is not None])
        if None not in ratios
        else None,
        "reported_replay": silent_count([c for c in reported if c is not None])
        if None not in reported
        else None,
        "own_replay": silent_count([c for c in own if c is not None]) if None not in own else None,
    }
    if last_token_only:
        accepts = [e.last_accept for e in evidence]
        silent["last_token_fresh_draw"] = (
            statistics.fmean(a for a in accepts if a is not None)
            if accepts and None not in accepts
            else None
        )
    fitted = [p for p in silent.values() if p is not None]
    miss = 0.0 if by_rule else (min(fitted) if fitted else None)
    return MissEstimate(by_rule, silent, miss)
