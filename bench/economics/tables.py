"""Plain-text tables and number formats for the economics report (stderr)."""

from __future__ import annotations


def pct(rate: float) -> str:
    return f"{rate * 100:g}%"


def fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:g}"


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n"
