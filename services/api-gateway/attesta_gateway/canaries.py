"""The canary planter: known-bad inferences among the real ones (docs/verification.md).

With a canary key, the gateway commits each epoch to that epoch's canary secret and,
after a real request, plants with probability `canary_rate` one canary: a copy of a
recent real request (same account, messages and sampling, a fresh seed), so its content
looks like real traffic. Its id is drawn until it carries the secret's mark and the fair
draw over the live executors picks one of the network's canary executors, which spoils
its result; every other request's id is drawn without the mark. No reservation is taken
and nobody collects the result. The secret is revealed after the settlement cutoff
(`reveal_at_ms`), so no verdict that counts could have known which were canaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, replace

from attesta_common.canary import canary_commitment, epoch_canary_secret, is_canary
from attesta_common.envelope import sign_event
from attesta_common.epochs import draw_executor, epoch_at, epoch_end_ms, epoch_seed
from attesta_common.events import CanaryCommitted, CanaryRevealed
from attesta_common.genesis import Genesis
from attesta_common.metrics import GATEWAY_CANARIES
from attesta_common.subjects import canary_committed, canary_revealed, inference_requested

from attesta_gateway.context import GatewayContext
from attesta_gateway.dispatch import InferenceJob, stream_prefix
from attesta_gateway.protocol import random_id

log = logging.getLogger(__name__)
# Which requests are copied and when: nothing a validator could predict.
_random = secrets.SystemRandom()

# Ids tried per canary: with the mark on 1 in 256 and the canary executors holding a
# share s of the draw, a try succeeds with probability s / 256.
MAX_TRIES = 100_000
RECENT_REQUESTS = 64


def reveal_at_ms(genesis: Genesis, epoch: int, delay_s: float) -> int:
    """After the settler's cutoff (epoch end + grace), by `delay_s` for clock skew."""
    grace_ms = int(genesis.settle_grace_seconds * 1000)
    return epoch_end_ms(genesis, epoch) + grace_ms + int(delay_s * 1000)


@dataclass(frozen=True)
class _Template:
    account: str
    job: InferenceJob
    id_prefix: str


class CanaryPlanter:
    def __init__(self, ctx: GatewayContext, canary_key: bytes, executors: frozenset[str]) -> None:
        self._ctx = ctx
        self._key = canary_key
        self._executors = executors
        self._rate = ctx.settings.canary_rate
        self._recent: deque[_Template] = deque(maxlen=RECENT_REQUESTS)
        self._committed: set[int] = set()
        self._revealed: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        # A restarted gateway may owe the reveals of the epochs before this one.
        now = epoch_at(ctx.genesis, _now_ms())
        self._committed.update(e for e in (now - 2, now - 1) if e >= 0)

    def secret(self, epoch: int) -> bytes:
        return epoch_canary_secret(self._key, epoch)

    def real_id(self, prefix: str, epoch: int) -> str:
        """An id for a client's request: never one that carries the canary mark."""
        secret = self.secret(epoch)
        while True:
            inference_id = random_id(prefix)
            if not is_canary(secret, inference_id):
                return inference_id

    def observe(self, account: str, job: InferenceJob, id_prefix: str) -> None:
        """A real request went out: remember it as a template, and maybe plant a canary."""
        template = _Template(account, job, id_prefix)
        self._recent.append(template)
        if _random.random() < self._rate:
            task = asyncio.create_task(self._plant_quietly(_random.choice(self._recent)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _plant_quietly(self, template: _Template) -> None:
        try:
            await self.plant(template)
        except Exception:
            # A canary lost to an outage is only a canary fewer; the client saw nothing.
            log.exception("planting a canary failed")

    async def plant(self, template: _Template) -> str | None:
        """Publish one canary modelled on `template`; its id, or None if none could go."""
        ctx = self._ctx
        job = template.job
        candidates = ctx.registry.candidates(job.model.name)
        if not any(address in self._executors for address, _ in candidates):
            return None
        now_ms = _now_ms()
        epoch = epoch_at(ctx.genesis, now_ms)
        await self.commit(epoch)
        secret, seed = self.secret(epoch), epoch_seed(ctx.genesis, epoch)
        for _ in range(MAX_TRIES):
            inference_id = random_id(template.id_prefix)
            if not is_canary(secret, inference_id):
                continue
            executor = draw_executor(seed, inference_id, candidates)
            if executor in self._executors:
                break
        else:
            log.warning("no canary id found in %d tries", MAX_TRIES)
            return None
        sampling = job.sampling.model_copy(update={"seed": secrets.randbits(63)})
        request = replace(job, sampling=sampling).request(
            inference_id=inference_id,
            epoch=epoch,
            account=template.account,
            candidates=candidates,
            executor=executor,
            # What a real request of its size reserves, so the record looks like one.
            reserved=job.reservation(ctx.genesis),
            now_ms=now_ms,
            timeout_s=ctx.settings.request_timeout_s,
            # As a real request to this executor names it (its events are then dropped
            # by the gateway's router: nobody reads them).
            stream_prefix=stream_prefix(ctx, executor),
        )
        record = sign_event(request, ctx.key)
        await ctx.records.publish(inference_requested(executor), record)
        GATEWAY_CANARIES.inc()
        log.debug("canary %s planted on %s", inference_id, executor)
        return inference_id

    async def commit(self, epoch: int) -> None:
        if epoch in self._committed:
            return
        secret_hash = canary_commitment(self.secret(epoch))
        event = CanaryCommitted(gateway=self._ctx.key.address, epoch=epoch, secret_hash=secret_hash)
        record = sign_event(event, self._ctx.key)
        await self._ctx.records.publish(canary_committed(self._ctx.key.address), record)
        self._committed.add(epoch)
        log.info("committed the canary secret of epoch %d", epoch)

    async def reveal_due(self, now_ms: int) -> list[int]:
        """Reveal every committed epoch whose settlement cutoff has passed."""
        delay_s = self._ctx.settings.canary_reveal_delay_s
        revealed = []
        for epoch in sorted(self._committed - self._revealed):
            if now_ms < reveal_at_ms(self._ctx.genesis, epoch, delay_s):
                continue
            event = CanaryRevealed(
                gateway=self._ctx.key.address, epoch=epoch, secret=self.secret(epoch).hex()
            )
            record = sign_event(event, self._ctx.key)
            await self._ctx.records.publish(canary_revealed(self._ctx.key.address), record)
            self._revealed.add(epoch)
            revealed.append(epoch)
            log.info("revealed the canary secret of epoch %d", epoch)
        return revealed

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="canary-planter")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            now_ms = _now_ms()
            try:
                await self.commit(epoch_at(self._ctx.genesis, now_ms))
                await self.reveal_due(now_ms)
            except Exception:
                # The broker may be away; the next round tries again.
                log.exception("canary commit or reveal failed")
            await asyncio.sleep(self._ctx.settings.canary_interval_s)


def _now_ms() -> int:
    return int(time.time() * 1000)
