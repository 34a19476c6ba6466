"""`python -m bench.detection.merge A.json B.json ...`: one report over several runs.

Full mode (100 cheats per scenario) takes hours on 2 cores; runs over disjoint samples
(`FIRST_SAMPLE`) and disjoint honest prompts (`FIRST_INDEX`) can be made apart and merged
here. Each file's last line is a `python -m bench.detection` JSON summary. Counts add up;
the miss estimates are fitted again over every sample's signals; honest checks and
failures add up, with the bound taken over the total. Prints the table on stderr (as
Markdown with `--markdown`, for docs/detection.md) and one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.detection.evidence import Evidence
from bench.detection.report import detection_row, miss_text, table
from bench.detection.stats import failure_upper


def _summary(path: Path) -> dict[str, Any]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def merge(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    tokens = {s["max_tokens"] for s in summaries}
    top_k = {s["top_k"] for s in summaries}
    if len(tokens) > 1 or len(top_k) > 1:
        raise ValueError(f"runs differ in max_tokens {tokens} or top_k {top_k}")
    parts: dict[str, list[dict[str, Any]]] = {}
    for s in summaries:
        for name, row in s["detection_detail"].items():
            parts.setdefault(name, []).append(row)
    rows = {}
    for name, seen in parts.items():
        distances = [r["min_distance"] for r in seen if r["min_distance"] is not None]
        rows[name] = detection_row(
            name,
            seen[0]["group"],
            caught=sum(r["caught"] for r in seen),
            total=sum(r["total"] for r in seen),
            skipped=sum(r["skipped"] for r in seen),
            min_distance=min(distances) if distances else None,
            evidence=[Evidence(*sample) for r in seen for sample in r["samples"]],
        )
    checks = sum(s["honest_checks"] for s in summaries)
    failures = sum(s["honest_failures"] for s in summaries)
    by_kind: dict[str, dict[str, int]] = {}
    for s in summaries:
        for kind, seen_kind in s["honest_by_kind"].items():
            into = by_kind.setdefault(kind, {"checks": 0, "failures": 0})
            into["checks"] += seen_kind["checks"]
            into["failures"] += seen_kind["failures"]
    return {
        "runs": len(summaries),
        "max_tokens": tokens.pop(),
        "top_k": top_k.pop(),
        "detection": {name: r["rate"] for name, r in rows.items()},
        "detection_miss_estimate": {name: r["miss_estimate"] for name, r in rows.items()},
        "honest_checks": checks,
        "honest_failures": failures,
        "honest_failure_upper95": round(failure_upper(failures, checks), 6),
        "honest_by_kind": by_kind,
        "detection_detail": rows,
    }


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| scenario | grp | caught | 95% CI | est. miss | weakest sample: distance / threshold,"
        " reported, own mismatches |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        low, high = r["ci95"]
        miss = miss_text(r)
        m = r["min_margin"]
        lines.append(
            f"| {name} | {r['group']} | {r['caught']}/{r['total']} | [{low:.3f}, {high:.3f}]"
            f" | {miss} | {m['distance_ratio']}, {m['reported_mismatches']},"
            f" {m['own_mismatches']} |"
        )
    return "\n".join(lines)


def main() -> None:
    paths = [a for a in sys.argv[1:] if a != "--markdown"]
    if not paths:
        sys.exit(__doc__)
    merged = merge([_summary(Path(p)) for p in paths])
    rows = merged["detection_detail"]
    text = markdown(rows) if "--markdown" in sys.argv else table(rows, merged)
    print(text, file=sys.stderr)
    print(json.dumps(merged, sort_keys=True))


if __name__ == "__main__":
    main()
