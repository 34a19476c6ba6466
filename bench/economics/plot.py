"""docs/economics.png: how fast sampling catches a full-time cheater, and what each
strategy earns against an honest executor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI or a headless box
import matplotlib.pyplot as plt
import numpy as np

from bench.economics.model import FloatArray

CDF_LIMIT = 700


def save(
    path: Path,
    caught: Mapping[str, FloatArray],
    closed_form: Mapping[str, float],
    strategies: Sequence[str],
    profit_pct: Mapping[str, Mapping[str, float]],
) -> None:
    """`caught`: rate label -> MC inferences until caught; `closed_form`: rate label -> the
    per-inference catch probability; `profit_pct`: rules label -> "strategy@rate" -> profit
    as a percentage of the honest executor's epoch net income."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    xs = np.arange(0, CDF_LIMIT + 1)
    for label, times in caught.items():
        ordered = np.sort(times)
        line = left.step(
            ordered, np.arange(1, ordered.size + 1) / ordered.size, where="post", label=label
        )
        p = closed_form[label]
        left.plot(xs, 1 - (1 - p) ** xs, "--", color=line[0].get_color(), linewidth=0.8)
    left.axvline(500, color="grey", linewidth=0.8)
    left.axhline(0.99, color="grey", linewidth=0.8)
    left.set(
        xlim=(0, CDF_LIMIT),
        ylim=(0, 1.01),
        xlabel="inferences served by a full-time cheater",
        ylabel="P(caught)",
        title="Inferences until the first invalidated cheat\n"
        "(steps: Monte Carlo, dashed: geometric)",
    )
    left.legend(title="sampling rate")

    labels = list(next(iter(profit_pct.values())).keys())
    width = 0.8 / len(profit_pct)
    positions = np.arange(len(labels))
    for i, (rules, values) in enumerate(profit_pct.items()):
        right.bar(positions + i * width, [values[k] for k in labels], width, label=rules)
    right.axhline(0, color="black", linewidth=0.8)
    right.set_xticks(positions + width * (len(profit_pct) - 1) / 2, labels, rotation=60, ha="right")
    right.set(
        ylabel="% of the honest executor's epoch net income",
        title="Expected profit of cheating, per epoch, against honesty",
    )
    right.legend()
    fig.suptitle(f"Strategies: {', '.join(strategies)}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
