"""A small cut of `make bench-detection`: every cheat is caught, no honest answer fails.

Each cheat is a real model run (variant weights, tampered prompt or sampling, forged
artifact) signed as an honest executor signs, checked by the validator's own admission and
`check_inference` with the reference engine. About two minutes on 2 cores.
"""

from __future__ import annotations

import pytest

from bench.detection.evidence import Evidence, gather
from bench.detection.harness import Harness
from bench.detection.honest import honest_checks
from bench.detection.scenarios import all_scenarios

pytestmark = pytest.mark.model

TOKENS = 24
HONEST = 8  # plan() rounds up to whole batches: 8 single runs, 4 at batch 4, 16 at batch 16


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


def test_every_cheat_scenario_is_caught(harness: Harness) -> None:
    missed = {}
    for scenario in all_scenarios():
        record = scenario.build(harness, 0, TOKENS)
        if record is None:  # the cheat did not apply to this sample; try the next one
            record = scenario.build(harness, 1, TOKENS)
        assert record is not None, f"{scenario.name}: no sample to cheat on"
        verdict = harness.check(record)
        if verdict.passed:
            missed[scenario.name] = verdict.distance
        # The bench's miss estimate reads every signal; a caught cheat must show one.
        evidence = gather(harness, verdict, record.to_bytes())
        assert _fires(evidence), f"{scenario.name}: caught, but no signal in {evidence}"
    assert not missed, f"cheats that passed the check: {missed}"


def _fires(e: Evidence) -> bool:
    return (
        e.structure_failed
        or bool(e.reported_mismatches)
        or bool(e.own_mismatches)
        or (e.distance_ratio is not None and e.distance_ratio > 1)
    )


def test_honest_controls_pass(harness: Harness) -> None:
    checks = list(honest_checks(harness, HONEST, TOKENS))
    kinds = {c.kind for c in checks}
    assert {"engine", "engine-1-thread", "repeated-run", "batch-4", "batch-16"} <= kinds
    # The workload mixes greedy, (0.8, 0.95) and hot sampling across consecutive indices.
    failures = [(c.kind, c.verdict.reasons) for c in checks if not c.verdict.passed]
    assert not failures


def test_statistics() -> None:
    from bench.detection.stats import wilson, zero_failure_upper

    low, high = wilson(100, 100)
    assert 0.96 < low < 0.97 and high == 1.0
    assert abs(zero_failure_upper(3000) - 0.000998) < 1e-5  # about 3/n
