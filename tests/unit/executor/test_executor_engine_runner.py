"""The async wrapper: steps in order on the loop, the engine on its own thread, bursts
handed over together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from attesta_engine.port import Generation, GenerationCancelled, GenerationSpec, TokenStep
from attesta_executor.engine_runner import INLINE_TOKENIZE_CHARS, EngineRunner
from executor_fakes import FakeEngine


def spec(max_tokens: int = 6) -> GenerationSpec:
    return GenerationSpec([1, 2], temperature=0.7, top_p=1.0, max_tokens=max_tokens, seed=3)


async def test_steps_arrive_in_order_on_the_loop_then_the_result() -> None:
    engine = FakeEngine()
    runner = EngineRunner(engine)
    seen: list[int] = []
    loop_thread = threading.current_thread().name

    lasts: list[bool] = []

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        assert threading.current_thread().name == loop_thread
        assert steps
        seen.extend(step.position for step in steps)
        lasts.append(last)

    generation = await runner.generate(spec(), on_step)
    runner.close()
    assert seen == list(range(6))
    # `last` is never said of a burst that more steps follow.
    assert not any(lasts[:-1])
    assert len(generation.output_token_ids) == 6
    assert all(name.startswith("engine") for name in engine.threads)


async def test_engine_errors_reach_the_caller() -> None:
    runner = EngineRunner(FakeEngine(fail_at=2))

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        return None

    with pytest.raises(RuntimeError, match="fake engine failure"):
        await runner.generate(spec(), on_step)
    runner.close()


async def test_a_failing_step_handler_stops_the_engine() -> None:
    engine = FakeEngine()
    runner = EngineRunner(engine)

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        raise ConnectionError("stream gone")

    with pytest.raises(ConnectionError):
        await runner.generate(spec(max_tokens=10_000), on_step)
    # The engine thread is free again soon: a new generation completes.
    result = await asyncio.wait_for(runner.generate(spec(2), _ignore), 5)
    assert len(result.output_token_ids) == 2
    runner.close()


async def test_should_stop_cancels_the_generation() -> None:
    runner = EngineRunner(FakeEngine())
    with pytest.raises(GenerationCancelled):
        await runner.generate(spec(), _ignore, lambda: True)
    runner.close()


async def test_steps_that_queued_up_meanwhile_come_as_one_burst() -> None:
    runner = EngineRunner(FakeEngine())
    bursts: list[list[int]] = []
    first = asyncio.Event()

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        bursts.append([step.position for step in steps])
        if not first.is_set():
            first.set()
            # A slow consumer: the engine runs ahead meanwhile.
            await asyncio.sleep(0.3)

    await runner.generate(spec(40), on_step)
    runner.close()
    assert [p for burst in bursts for p in burst] == list(range(40))
    assert len(bursts) < 40 and max(len(b) for b in bursts) > 1


async def _ignore(steps: list[TokenStep], last: bool) -> None:
    return None


@pytest.fixture
async def wakeups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the loop is woken from outside (`call_soon_threadsafe`): one entry each."""
    loop = asyncio.get_running_loop()
    calls: list[int] = []
    original = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> asyncio.Handle:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    return calls


async def test_the_loop_is_woken_once_per_burst_not_per_step(wakeups: list[int]) -> None:
    runner = EngineRunner(FakeEngine())
    bursts: list[int] = []

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        bursts.append(len(steps))
        await asyncio.sleep(0.05)  # the engine runs ahead meanwhile

    await runner.generate(spec(40), on_step)
    runner.close()
    assert sum(bursts) == 40
    # One wake-up per burst, plus the worker thread's result handed back to the loop
    # (per step it was 40 and more).
    assert len(wakeups) <= len(bursts) + 1 and len(bursts) < 40


async def test_an_engine_on_the_loop_reports_its_only_burst_as_the_last() -> None:
    """A `ConcurrentEngine` that makes the whole answer in one turn (the instant engine, a
    short answer) gives one burst, known to be the last."""
    runner = EngineRunner(LoopEngine())
    calls: list[tuple[int, bool]] = []

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        calls.append((len(steps), last))

    await runner.generate(spec(5), on_step)
    runner.close()
    assert calls == [(5, True)]


async def test_short_prompts_tokenize_on_the_loop_long_ones_off_it() -> None:
    runner = EngineRunner(FakeEngine())
    loop_thread = threading.current_thread()
    where = runner.tokenize
    try:
        assert await where(threading.current_thread, INLINE_TOKENIZE_CHARS) is loop_thread
        assert await where(threading.current_thread, INLINE_TOKENIZE_CHARS + 1) is not loop_thread
    finally:
        runner.close()


class LoopEngine(FakeEngine):
    """A ConcurrentEngine: reports its steps on the event loop, as vLLM's adapter does."""

    async def generate_async(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        await asyncio.sleep(0)
        generation: Generation = self.generate(spec, on_step, should_stop)
        return generation


async def test_an_engine_on_the_loop_does_not_wake_it_through_the_self_pipe(
    wakeups: list[int],
) -> None:
    runner = EngineRunner(LoopEngine())
    seen: list[int] = []

    async def on_step(steps: list[TokenStep], last: bool) -> None:
        seen.extend(step.position for step in steps)

    generation = await runner.generate(spec(8), on_step)
    runner.close()
    assert seen == list(range(8)) == list(range(len(generation.output_token_ids)))
    assert wakeups == []
