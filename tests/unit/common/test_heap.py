"""The collector's settings after startup: startup's objects frozen, young passes rarer,
cycles still collected. In a child process: `settle` changes the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from attesta_common import heap

    kept = [[i] for i in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None, "a cycle made after settle() was not collected"
    print("ok")
    """
)


def test_settle_freezes_startup_and_still_collects_cycles() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
