"""`python -m bench.economics`: time-to-catch and the profit of cheating; one JSON line.

Every option also reads an environment variable (in brackets); progress and tables go to
stderr, the plot to docs/economics.png, the summary as one JSON line to stdout.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.economics import plot, tables
from bench.economics.cli import parse_args
from bench.economics.goals import GOAL_PROBABILITY, GOAL_WITHIN, HEADLINE_RATE
from bench.economics.model import Economics, Network, Rules
from bench.economics.simulate import (
    CatchTimes,
    Scenario,
    catch_times,
    expected_profit,
    geometric_median,
    geometric_within,
    probabilities,
)
from bench.economics.strategies import (
    CHEATERS,
    HONEST,
    parse_detection,
)
from bench.economics.validators import canary_table, lazy_validator_table


def main() -> None:
    a = parse_args()
    rng = np.random.default_rng(a.seed)
    rates = [float(r) for r in a.rates.split(",") if r]
    economics = Economics(
        inferences_per_epoch=a.inferences,
        compute_cost_to_fee=a.cost_to_fee,
        cheap_cost_fraction=a.cheap_cost,
    )
    network = Network()
    unslashed, settler = Rules(slash_multiple=0.0), Rules(slash_multiple=a.slash)
    full_time = CHEATERS[0]
    report: list[str] = []
    summary: dict[str, Any] = {"seed": a.seed, "trials": a.trials, "detection": a.detection}

    # 1. Time to catch a full-time cheater, per sampling rate.
    caught: dict[str, Any] = {}
    closed: dict[str, float] = {}
    rows = []
    medians: dict[str, float | None] = {}
    marked_medians: dict[str, float | None] = {}
    for rate in tqdm(rates, desc="time-to-catch", file=sys.stderr):
        scenario = Scenario(rate, a.detection, a.false_positive)
        p_cheat, _ = probabilities(network, scenario)
        times = catch_times(
            rng, network, economics, unslashed, scenario, full_time, a.trials, a.epochs
        )
        label = tables.pct(rate)
        caught[label], closed[label] = times.caught, p_cheat
        medians[label] = CatchTimes.median(times.caught)
        marked_medians[label] = CatchTimes.median(times.marked)
        rows.append(
            [
                label,
                f"{p_cheat:.5f}",
                f"{rate * a.detection:.5f}",
                f"{geometric_within(p_cheat, GOAL_WITHIN):.4f}",
                f"{times.within(GOAL_WITHIN):.4f}",
                tables.fmt(geometric_median(p_cheat)),
                tables.fmt(medians[label]),
                tables.fmt(marked_medians[label]),
                f"{np.mean(np.isinf(times.marked)):.3f}",
            ]
        )
        if rate == HEADLINE_RATE:
            summary["p_caught_within_500_at_1pct"] = round(times.within(GOAL_WITHIN), 4)
            summary["p_caught_within_500_at_1pct_closed_form"] = round(
                geometric_within(p_cheat, GOAL_WITHIN), 4
            )
            summary["p_caught_within_500_at_1pct_brief_form"] = round(
                geometric_within(rate * a.detection, GOAL_WITHIN), 4
            )
    report.append(
        tables.table(
            "Full-time cheater: inferences until caught (first invalidated cheat) and until "
            f"marked invalid; {a.trials} trials, horizon {a.epochs} epochs of {a.inferences}",
            [
                "rate",
                "P(inv|cheat)",
                "rate*det",
                f"P(<={GOAL_WITHIN}) closed",
                "MC",
                "median closed",
                "MC",
                "median marked",
                "never marked",
            ],
            rows,
        )
    )
    summary["median_inferences_to_catch"] = medians
    summary["median_inferences_to_marked_invalid"] = marked_medians

    # 2. Profit of each strategy against honesty, unslashed rules and the settler.
    profit: dict[str, dict[str, float]] = {unslashed.label: {}, settler.label: {}}
    extra: dict[str, dict[str, float]] = {}
    rows = []
    combos = [(s, r) for r in rates for s in CHEATERS]
    for strategy, rate in tqdm(combos, desc="profit", file=sys.stderr):
        scenario = Scenario(rate, a.detection, a.false_positive)
        key = f"{strategy.name}@{tables.pct(rate)}"
        row = [key]
        for rules in (unslashed, settler):
            result = expected_profit(
                rng, network, economics, rules, scenario, strategy, HONEST, a.trials
            )
            profit[rules.label][key] = round(result.profit)
            share = 100 * result.profit / result.honest_net
            row += [f"{result.profit:+.0f} ± {result.stderr:.0f}", f"{share:+.1f}%"]
            if rules is unslashed:
                row += [f"{result.p_caught:.3f}", f"{result.p_marked:.4f}"]
                extra[key] = {
                    "p_caught_in_epoch": round(result.p_caught, 4),
                    "p_marked_invalid_in_epoch": round(result.p_marked, 4),
                }
        rows.append(row)
    reward = economics.executor_reward(network.executors)
    honest_net = economics.inferences_per_epoch * (economics.fee - economics.honest_cost) + reward
    report.append(
        tables.table(
            f"Expected profit per epoch against an honest executor (honest net {honest_net:.0f}: "
            f"fee {economics.fee:g}, compute {economics.honest_cost:g}, cheat compute "
            f"{economics.cheat_cost:g}, reward share {reward:g})",
            ["strategy@rate", unslashed.label, "%", "P(caught)", "P(marked)", settler.label, "%"],
            rows,
        )
    )
    pct_of_honest = {
        rules: {k: 100 * v / honest_net for k, v in values.items()}
        for rules, values in profit.items()
    }

    # 3. Without the reward pool (fees only): what the pool does for deterrence.
    no_pool = replace(economics, epoch_reward_pool=0)
    rows = []
    fees_only: dict[str, dict[str, float]] = {unslashed.label: {}, settler.label: {}}
    small = max(a.trials // 4, 200)
    for strategy, rate in tqdm(combos, desc="fees-only", file=sys.stderr):
        scenario = Scenario(rate, a.detection, a.false_positive)
        key = f"{strategy.name}@{tables.pct(rate)}"
        row = [key]
        for rules in (unslashed, settler):
            result = expected_profit(
                rng, network, no_pool, rules, scenario, strategy, HONEST, small
            )
            fees_only[rules.label][key] = round(result.profit)
            row.append(f"{result.profit:+.0f} ({100 * result.profit / result.honest_net:+.1f}%)")
        rows.append(row)
    report.append(
        tables.table(
            "Same, with no reward pool (fees only)",
            ["strategy@rate", unslashed.label, settler.label],
            rows,
        )
    )

    # 4. Lazy validators lower the effective sampling rate.
    text, lazy_out = lazy_validator_table(
        rng, economics, unslashed, Scenario(HEADLINE_RATE, a.detection, a.false_positive), small
    )
    report.append(text)

    # 5. What slashing costs an honest executor whose work is sometimes failed.
    rows = []
    for fp in (0.0, 1e-4, 1e-3, 1e-2, 0.05):
        _, p_honest = probabilities(network, Scenario(HEADLINE_RATE, a.detection, fp))
        slash = economics.inferences_per_epoch * p_honest * a.slash * economics.fee / HEADLINE_RATE
        refunds = economics.inferences_per_epoch * p_honest * economics.fee
        rows.append(
            [f"{fp:g}", f"{refunds:.0f}", f"{slash:.0f}", f"{100 * slash / honest_net:.2f}%"]
        )
    report.append(
        tables.table(
            "Honest executor at 1% target: refunds, and the slash on top",
            ["false-positive/check", "refunds", "slash (settler)", "% of net"],
            rows,
        )
    )

    # 6. Canaries against rubber-stamping validators.
    text, canary_out = canary_table(network, economics, a.validate_cost)
    report.append(text)

    # 7. Per-scenario detection rates (bench.detection's measurements), if given.
    scenario_rates = parse_detection(a.detection_rates)
    by_scenario: dict[str, dict[str, float | None]] = {}
    if scenario_rates:
        rows = []
        saving = economics.honest_cost - economics.cheat_cost
        for name, det in tqdm(sorted(scenario_rates.items()), desc="scenarios", file=sys.stderr):
            scenario = Scenario(HEADLINE_RATE, det, a.false_positive)
            p_cheat, _ = probabilities(network, scenario)
            cur = expected_profit(
                rng, network, economics, unslashed, scenario, full_time, HONEST, small
            )
            prop = expected_profit(
                rng, network, economics, settler, scenario, full_time, HONEST, small
            )
            # Break-even slash multiple: saving = p*fee + p*m*fee/target, per cheat.
            breakeven = (
                max(
                    0.0,
                    (saving - p_cheat * economics.fee) * HEADLINE_RATE / (p_cheat * economics.fee),
                )
                if p_cheat > 0
                else None
            )
            by_scenario[name] = {
                "detection": det,
                "p_within_500_at_1pct": round(geometric_within(p_cheat, GOAL_WITHIN), 4),
                "profit_full_time_1pct_without_slash": round(cur.profit),
                "profit_full_time_1pct": round(prop.profit),
                "breakeven_slash_multiple": None if breakeven is None else round(breakeven, 3),
            }
            rows.append(
                [
                    name,
                    f"{det:.3f}",
                    f"{geometric_within(p_cheat, GOAL_WITHIN):.4f}",
                    tables.fmt(geometric_median(p_cheat)),
                    f"{cur.profit:+.0f}",
                    f"{prop.profit:+.0f}",
                    tables.fmt(None if breakeven is None else round(breakeven, 2)),
                ]
            )
        report.append(
            tables.table(
                "Per scenario (measured detection), full-time cheater at 1% target",
                [
                    "scenario",
                    "detection",
                    f"P(<={GOAL_WITHIN})",
                    "median",
                    unslashed.label,
                    settler.label,
                    "break-even slash",
                ],
                rows,
            )
        )

    print("\n" + "\n".join(report), file=sys.stderr)
    plot.save(Path(a.plot), caught, closed, [s.name for s in CHEATERS], pct_of_honest)
    headline = summary.get("p_caught_within_500_at_1pct", 0.0)
    summary.update(
        profit=profit[settler.label],
        profit_without_slash=profit[unslashed.label],
        profit_rule=f"slash {a.slash:g} x fee / target per invalidated inference",
        profit_fees_only=fees_only,
        profit_honest_net_per_epoch=round(honest_net),
        epoch_detail=extra,
        lazy_validators=lazy_out,
        canary_flag_probability_per_epoch=canary_out,
        per_scenario=by_scenario,
        goals={
            "caught_within_500_at_1pct_ge_99pct": headline >= GOAL_PROBABILITY,
            "no_profitable_strategy": all(v < 0 for v in profit[settler.label].values()),
            "no_profitable_strategy_without_slash": all(
                v < 0 for v in profit[unslashed.label].values()
            ),
        },
        plot=a.plot,
    )
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
