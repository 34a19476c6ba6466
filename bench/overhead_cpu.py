"""CPU time and profiles of the bench's processes, to say where a request's time goes."""

from __future__ import annotations

import os
import pstats
from collections import defaultdict
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and every descendant (Postgres backends included)."""
    total, stack, seen = 0.0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack += _children(current)
        try:
            # Fields after the parenthesised command name; utime and stime are 14 and 15.
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, IndexError, ValueError):
            continue
    return total


def _package(filename: str, function: str = "") -> str:
    """The top-level package a profiled function lives in ('~' is a builtin)."""
    if filename.startswith("~") or filename.startswith("<"):
        if "_socket.socket" in function:
            return "socket send/recv (syscalls)"
        if "epoll" in function:
            return "epoll wait (idle)"
        return "other C builtins"
    parts = Path(filename).parts
    for marker in ("site-packages", "libs", "services"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            if marker != "site-packages" and len(rest) > 1:
                rest = rest[1:]  # libs/<dist>/<package>/...
            return rest[0].removesuffix(".py") if rest else filename
    if "python3" in filename or "/lib/python" in filename:
        name = parts[-2] if parts[-2].startswith("asyncio") else parts[-1].removesuffix(".py")
        return f"stdlib {name}"
    return Path(filename).name


def profile_by_package(path: Path, top: int = 12) -> list[tuple[str, float]]:
    """Share of the profiled (own) time per package, largest first."""
    stats = pstats.Stats(str(path))
    own: dict[str, float] = defaultdict(float)
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        own[_package(filename, function)] += row[2]
    total = sum(own.values()) or 1.0
    ranked = sorted(own.items(), key=lambda item: item[1], reverse=True)
    return [(name, seconds / total) for name, seconds in ranked[:top]]


def profile_top_functions(path: Path, top: int = 12) -> list[tuple[str, float]]:
    """Functions by own time (tottime) share, leaving out the event loop's bookkeeping."""
    stats = pstats.Stats(str(path))
    rows = stats.stats.items()  # type: ignore[attr-defined]
    total = sum(row[2] for _, row in rows) or 1.0
    ranked = sorted(rows, key=lambda item: item[1][2], reverse=True)
    out = []
    for (filename, line, name), row in ranked:
        if "asyncio" in filename or "epoll" in name or "_contextvars" in name:
            continue
        where = name if filename.startswith("~") else f"{_package(filename)}:{name}:{line}"
        out.append((where, row[2] / total))
        if len(out) >= top:
            break
    return out
