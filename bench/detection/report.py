"""Turning verdicts into the numbers of the issue: rates with intervals, cost, bytes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field
from typing import Any

from attesta_validator.distance import gonka_distance

from bench.detection.evidence import LAST_TOKEN_CHEATS, Evidence, estimate
from bench.detection.harness import Verdict
from bench.detection.honest import HonestCheck
from bench.detection.stats import failure_upper, wilson


@dataclass
class Tally:
    """Verdicts of one cheat scenario."""

    group: str
    verdicts: list[Verdict] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    skipped: int = 0  # samples where the cheat did not apply (nothing dishonest was sent)

    @property
    def caught(self) -> int:
        return sum(not v.passed for v in self.verdicts)

    @property
    def total(self) -> int:
        return len(self.verdicts)


def detection(tallies: dict[str, Tally]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, t in tallies.items():
        distances = [v.distance for v in t.verdicts if v.distance is not None]
        out[name] = detection_row(
            name,
            t.group,
            caught=t.caught,
            total=t.total,
            skipped=t.skipped,
            min_distance=min(distances) if distances else None,
            evidence=t.evidence,
        )
    return out


def detection_row(
    name: str,
    group: str,
    *,
    caught: int,
    total: int,
    skipped: int,
    min_distance: float | None,
    evidence: Sequence[Evidence],
) -> dict[str, Any]:
    """One scenario's figures; `samples` keeps every sample's signals so that runs over
    other samples can be merged (bench.detection.merge)."""
    low, high = wilson(caught, total)
    fitted = estimate(evidence, last_token_only=name in LAST_TOKEN_CHEATS)
    return {
        "group": group,
        "caught": caught,
        "total": total,
        "skipped": skipped,
        "rate": caught / total if total else None,
        "ci95": [round(low, 4), round(high, 4)],
        "min_distance": min_distance,
        "by_rule": fitted.by_rule,
        "silent": {k: _sig(v) for k, v in fitted.silent.items()},
        "miss_estimate": _sig(fitted.miss),
        "min_margin": _margins(evidence),
        "samples": [list(astuple(e)) for e in evidence],
    }


def _sig(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.3g}")


def _margins(evidence: Sequence[Evidence]) -> dict[str, float | int | None]:
    """The weakest sample of each signal: smallest distance ratio and mismatch counts."""
    ratios = [e.distance_ratio for e in evidence if e.distance_ratio is not None]
    reported = [e.reported_mismatches for e in evidence if e.reported_mismatches is not None]
    own = [e.own_mismatches for e in evidence if e.own_mismatches is not None]
    return {
        "distance_ratio": _sig(min(ratios)) if ratios else None,
        "reported_mismatches": min(reported) if reported else None,
        "own_mismatches": min(own) if own else None,
    }


def codec_numbers(checks: Sequence[HonestCheck], threshold: float) -> dict[str, Any]:
    """Bytes per token of the artifact as executors sign it (ATA2) and in the legacy ATA1
    layout, and how far snapping to the reporting grid moves the distance (raw numbers
    against the artifact's, worst artifact, as a fraction of the threshold; only the
    batch kinds, from the bench's decode loop, have raw numbers: 0 where none has)."""
    tokens = sum(c.positions for c in checks) or 1
    worst = max((gonka_distance(c.raw_logprobs, c.artifact.logprobs) for c in checks), default=0.0)
    return {
        "artifact_bytes_per_token": round(sum(c.artifact_bytes for c in checks) / tokens, 2),
        "artifact_ata1_bytes_per_token": round(
            sum(len(c.artifact.encode_ata1()) for c in checks) / tokens, 2
        ),
        "grid_max_shift_over_threshold": round(worst / threshold, 5),
    }


def honest_numbers(checks: Sequence[HonestCheck], threshold: float) -> dict[str, Any]:
    failures = [c for c in checks if not c.verdict.passed]
    ratios = [c.verdict.seconds / c.generate_seconds for c in checks if c.kind == "engine"]
    by_kind: dict[str, list[int]] = {}
    for c in checks:
        seen = by_kind.setdefault(c.kind, [0, 0])
        seen[0] += 1
        seen[1] += not c.verdict.passed
    distances = [c.verdict.distance for c in checks if c.verdict.distance is not None]
    return {
        "honest_checks": len(checks),
        "honest_failures": len(failures),
        "honest_failure_upper95": round(failure_upper(len(failures), len(checks)), 6),
        "honest_by_kind": {k: {"checks": n, "failures": f} for k, (n, f) in by_kind.items()},
        "honest_failure_reasons": [c.verdict.reasons for c in failures[:5]],
        "honest_max_distance_over_threshold": round(max(distances, default=0.0) / threshold, 5),
        "honest_mean_positions": statistics.fmean(c.positions for c in checks) if checks else 0,
        "validate_over_generate": round(statistics.median(ratios), 4) if ratios else None,
    }


def miss_text(row: dict[str, Any]) -> str:
    """A scenario's miss estimate as the tables show it."""
    if row["by_rule"]:
        return "rule"
    miss = row["miss_estimate"]
    if miss is None:
        return "n/a"
    # Below this a fitted tail says nothing more useful than "far out of reach".
    return "< 1e-12" if miss < 1e-12 else f"{miss:.1e}"


def table(rows: dict[str, dict[str, Any]], honest: dict[str, Any]) -> str:
    lines = [
        f"{'scenario':30s} {'grp':3s} {'caught/total':>12s} {'rate':>7s}  {'95% CI':16s} est. miss"
    ]
    for name, r in rows.items():
        rate = "n/a" if r["rate"] is None else f"{r['rate']:.3f}"
        caught = f"{r['caught']}/{r['total']}"
        low, high = r["ci95"]
        lines.append(
            f"{name:30s} {r['group']:3s} {caught:>12s} {rate:>7s}  [{low:.3f}, {high:.3f}]"
            f"   {miss_text(r)}"
        )
    n, f = honest["honest_checks"], honest["honest_failures"]
    bound = honest["honest_failure_upper95"]
    lines.append(f"honest: {f} failures in {n} checks, 95% upper bound {bound:.2e}")
    for kind, seen in honest["honest_by_kind"].items():
        lines.append(f"  {kind:16s} {seen['failures']}/{seen['checks']}")
    return "\n".join(lines)
