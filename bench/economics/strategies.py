"""The executors' strategies, and the per-check detection rates they face."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Strategy:
    name: str
    cheat_fraction: float  # of its inferences served by the cheap substitute, at random


HONEST = Strategy("honest", 0.0)
CHEATERS = (
    Strategy("full-time", 1.0),
    Strategy("part-time-10%", 0.1),
    Strategy("part-time-1%", 0.01),
)

# Until bench.detection's measured rates are given, a check catches a cheat 99.9% of the
# time: slightly below the 100% the suite measures on every scenario, so the headline
# numbers do not rest on perfection.
DEFAULT_DETECTION = 0.999


def parse_detection(spec: str) -> dict[str, float]:
    """Per-scenario detection rates from DETECTION_RATES.

    Either `name=rate,name=rate` or the path of a file holding `python -m bench.detection`'s
    JSON line (its "detection" object: scenario -> measured rate, lowered to one minus its
    "detection_miss_estimate" where that is higher). Scenarios without a rate (all skipped)
    are left out.
    """
    spec = spec.strip()
    if not spec:
        return {}
    path = Path(spec)
    if path.is_file():
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        summary = json.loads(lines[-1])
        measured = summary["detection"]
        # The per-inference estimate from the margins (1 - fitted miss) is finer than n of n
        # caught; the smaller of the two is used.
        misses = summary.get("detection_miss_estimate") or {}
        return {
            str(k): min(float(v), 1.0 - float(misses.get(k) or 0.0))
            for k, v in sorted(measured.items())
            if v is not None
        }
    rates = {}
    for item in spec.split(","):
        name, _, rate = item.partition("=")
        value = float(rate)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"detection rate of {name} must lie in [0, 1]: {value}")
        rates[name.strip()] = value
    return rates
