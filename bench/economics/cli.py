"""Command-line options of `python -m bench.economics`; each also reads an environment
variable (in brackets)."""

from __future__ import annotations

import argparse
import os

from attesta_settler.slashing import SLASH_MULTIPLE

from bench.economics.strategies import DEFAULT_DETECTION


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.economics", description=__doc__)
    p.add_argument("--seed", type=int, default=int(env("SEED", "7")), help="[SEED]")
    p.add_argument("--trials", type=int, default=int(env("TRIALS", "4000")), help="[TRIALS]")
    p.add_argument(
        "--epochs",
        type=int,
        default=int(env("EPOCHS", "10")),
        help="horizon of the time-to-catch study [EPOCHS]",
    )
    p.add_argument("--rates", default=env("RATES", "0.01,0.05,0.1"), help="[RATES]")
    detection = float(env("DETECTION", str(DEFAULT_DETECTION)))
    p.add_argument(
        "--detection",
        type=float,
        default=detection,
        help="per-check detection of a cheat [DETECTION]",
    )
    p.add_argument(
        "--detection-rates",
        default=env("DETECTION_RATES", ""),
        help="per-scenario rates: name=rate,... or bench.detection's JSON file [DETECTION_RATES]",
    )
    p.add_argument(
        "--false-positive",
        type=float,
        default=float(env("FALSE_POSITIVE", "0")),
        help="P(a check fails honest work) [FALSE_POSITIVE]",
    )
    p.add_argument(
        "--cost-to-fee",
        type=float,
        default=float(env("COST_TO_FEE", "0.5")),
        help="honest compute cost / fee [COST_TO_FEE]",
    )
    p.add_argument(
        "--cheap-cost",
        type=float,
        default=float(env("CHEAP_COST", "0.3")),
        help="cheat compute cost / honest compute cost [CHEAP_COST]",
    )
    p.add_argument(
        "--inferences",
        type=int,
        default=int(env("INFERENCES_PER_EPOCH", "1000")),
        help="per executor per epoch [INFERENCES_PER_EPOCH]",
    )
    p.add_argument(
        "--slash",
        type=float,
        default=float(env("SLASH_MULTIPLE", str(SLASH_MULTIPLE))),
        help="the slash multiple (the settler's by default) [SLASH_MULTIPLE]",
    )
    p.add_argument(
        "--validate-cost",
        type=float,
        default=float(env("VALIDATE_COST", "0.05")),
        help="a check's cost / the generation's (bench.detection measures it) [VALIDATE_COST]",
    )
    p.add_argument("--plot", default=env("PLOT", "docs/economics.png"), help="[PLOT]")
    return p.parse_args()
