"""The engine behind an async interface, so the event loop never waits on torch.

Generations of a one-at-a-time engine (the reference) run on one dedicated worker thread:
it serialises its forwards anyway (torch already spreads one sequence over every core),
and one thread keeps the order in which requests were accepted. An engine that batches
(`ConcurrentEngine`, vLLM) is awaited directly, so every request in flight joins its batch.
Steps are appended to a list under a lock and the event loop is woken only when the list
was empty (one `call_soon_threadsafe`, a pipe write and a wake-up, per burst, not per
token); the loop takes whatever has gathered, in order. So a slow engine still streams
token by token, and a fast one (a vLLM batch, a short answer) costs one wake-up and one
message per burst.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from attesta_engine.port import (
    ConcurrentEngine,
    Engine,
    Generation,
    GenerationSpec,
    TokenStep,
)

T = TypeVar("T")

# Prompt text up to this many characters is tokenized on the event loop (`tokenize`).
INLINE_TOKENIZE_CHARS = 2048

# Called with the steps in order, one or more at a time (never zero), and whether these are
# the last: the generation has ended and no step follows.
StepHandler = Callable[[list[TokenStep], bool], Awaitable[None]]


class EngineRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Checked once: a runtime Protocol check walks the protocol's members every time.
        self._concurrent = engine if isinstance(engine, ConcurrentEngine) else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")

    async def tokenize(self, func: Callable[[], T], text_chars: int) -> T:
        """Tokenization of `text_chars` characters of prompt text.

        A short prompt is tokenized on the loop: its ~0.1 ms costs less than the hop to a
        worker thread and back. A longer one goes off the loop, but not queued behind a
        running generation: tokenizers are not torch and are safe to call beside it."""
        if text_chars <= INLINE_TOKENIZE_CHARS:
            return func()
        return await asyncio.to_thread(func)

    async def generate(
        self,
        spec: GenerationSpec,
        on_step: StepHandler,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        """Generate on the worker thread, awaiting `on_step` for the steps in order.

        If `on_step` fails, or this coroutine is cancelled, the worker is told to stop at
        its next step so the engine is free again soon, and the error is re-raised at once.
        """
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        gathered: list[TokenStep] = []
        lock = threading.Lock()
        abandon = threading.Event()

        loop_thread = threading.get_ident()

        def push(step: TokenStep) -> None:
            with lock:
                gathered.append(step)
                wake = len(gathered) == 1
            if not wake:
                return
            if threading.get_ident() == loop_thread:
                # A ConcurrentEngine (vLLM) reports on the loop itself: no need to wake it
                # through its self-pipe, a write and a read per step and stream.
                ready.set()
            else:
                loop.call_soon_threadsafe(ready.set)

        def stop_requested() -> bool:
            return abandon.is_set() or (should_stop is not None and should_stop())

        future: asyncio.Future[Generation]
        concurrent = self._concurrent
        if concurrent is not None:
            future = asyncio.ensure_future(concurrent.generate_async(spec, push, stop_requested))
        else:
            future = loop.run_in_executor(
                self._pool, self.engine.generate, spec, push, stop_requested
            )
        future.add_done_callback(lambda _: ready.set())
        try:
            while True:
                await ready.wait()
                ready.clear()
                # Read before taking the steps: once the generation is done, every step it
                # pushed is already in `gathered`, so this take is the last one.
                ended = future.done()
                with lock:
                    steps = gathered.copy()
                    gathered.clear()
                if steps:
                    await on_step(steps, ended)
                if ended:
                    break
        except BaseException:
            abandon.set()
            # Nobody awaits the abandoned generation: retrieve its outcome so asyncio does
            # not report it as never retrieved.
            future.add_done_callback(_retrieve)
            raise
        return await future

    def close(self) -> None:
        """Let a generation still on the worker finish on its own; accept no new one."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _retrieve(future: asyncio.Future[Generation]) -> None:
    if not future.cancelled():
        future.exception()
