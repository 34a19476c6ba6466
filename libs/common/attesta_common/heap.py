"""The garbage collector's settings for a long-running service, applied once it has started.

CPython's cyclic collector runs a young-generation pass every 700 net container
allocations and, now and then, a full pass over every object alive. A started service
holds millions of objects that live as long as the process (imported modules, pydantic and
FastAPI schemas, a tokenizer, a model), and each request allocates hundreds of short-lived
ones, so on the request path the collector took 5-7% of the gateway's and the executor's
CPU at saturation (py-spy --native, docs/overhead.md). `settle` moves what exists after
startup out of the collector's sight (`gc.freeze`) and collects the young generation less
often; reference counting still frees every acyclic object at once, and cycles are still
collected, only in larger, rarer passes.
"""

from __future__ import annotations

import gc

# Net container allocations between young-generation passes (CPython's default: 700).
YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Call once, when startup is done, from the process's entry point (never from a
    library or a test: it changes the collector for the whole process)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
