"""Every cheat of the suite, in run order (grouped so each model variant is built once)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.detection import scenarios_forge, scenarios_model, scenarios_tamper
from bench.detection.scenarios_model import Build


@dataclass(frozen=True)
class Scenario:
    name: str
    group: str  # the letter: a) layers dropped ... j) partial cheating
    build: Build


def all_scenarios() -> list[Scenario]:
    rows = [
        *scenarios_model.scenarios(),
        *scenarios_tamper.scenarios(),
        *scenarios_forge.scenarios(),
    ]
    return [Scenario(name, group, build) for name, group, build in rows]
