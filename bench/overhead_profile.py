"""A cProfile window inside a bench service process, opened and closed by marker files.

Profiling the whole run would slow every measurement, so each profiled process (gateway,
executor) profiles only between `<dir>/start` and `<dir>/stop`, which the bench creates
around a short saturation, and writes `<dir>/<name>.prof` at once (a SIGTERM-ed uvicorn
re-raises the signal, so a profile written at exit would be lost).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
from pathlib import Path

ENV = "BENCH_PROFILE_DIR"
_POLL_S = 0.05


async def profile_window(name: str) -> None:
    """Run as a task on the service's event loop (the profiler sees that thread only)."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    start, stop = Path(folder) / "start", Path(folder) / "stop"
    while not start.exists():  # noqa: ASYNC110 - a file is the only signal across processes
        await asyncio.sleep(_POLL_S)
    profiler = cProfile.Profile()
    profiler.enable()
    while not stop.exists():  # noqa: ASYNC110
        await asyncio.sleep(_POLL_S)
    profiler.disable()
    # Written aside, then renamed: the reader polls for the name and must never see it half
    # written.
    partial = Path(folder) / f"{name}.prof.partial"
    profiler.dump_stats(str(partial))
    partial.rename(Path(folder) / f"{name}.prof")
