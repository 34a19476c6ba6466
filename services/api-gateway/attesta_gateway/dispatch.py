"""From a validated request to a published `InferenceRequested`: reserve, draw, publish.

After the reservation, an inference belongs to its own task (see `collection`), not to
the HTTP request: the task publishes the request, then collects the token stream and
charges or releases. A client that goes away, even mid-publish, cannot leave money held
or a finished inference uncharged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from attesta_common.envelope import sign_event
from attesta_common.epochs import draw_executor, epoch_at, epoch_seed
from attesta_common.events import ChatMessage, InferenceRequested, SamplingParams
from attesta_common.genesis import Genesis, ModelSpec
from attesta_common.pricing import inference_cost
from attesta_common.subjects import STREAM_PREFIX_FEATURE, token_stream
from opentelemetry import trace

from attesta_gateway import accounts
from attesta_gateway.accounts import Account
from attesta_gateway.collection import Collector, Inference
from attesta_gateway.context import GatewayContext
from attesta_gateway.errors import SERVER_ERROR, OpenAIError
from attesta_gateway.protocol import random_id
from attesta_gateway.token_streams import StreamRouter, TokenStream

log = logging.getLogger(__name__)

# Executors announce themselves every second or so: a client retrying after this long
# sees a fresh registry.
RETRY_AFTER_S = "2"


@dataclass(frozen=True)
class InferenceJob:
    """What the serving layer asks for, already checked against the model's limits."""

    endpoint: Literal["chat", "completion"]
    model: ModelSpec
    sampling: SamplingParams
    prompt_bound: int
    messages: list[ChatMessage] | None = None
    prompt: str | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    # The client reads the answer as it is made (SSE).
    stream: bool = True

    def reservation(self, genesis: Genesis) -> int:
        return inference_cost(genesis, self.prompt_bound, self.sampling.max_tokens)

    def request(
        self,
        *,
        inference_id: str,
        epoch: int,
        account: str,
        candidates: list[tuple[str, int]],
        executor: str,
        reserved: int,
        now_ms: int,
        timeout_s: float,
        stream_prefix: str | None = None,
    ) -> InferenceRequested:
        return InferenceRequested(
            inference_id=inference_id,
            endpoint=self.endpoint,
            epoch=epoch,
            model=self.model.name,
            messages=self.messages,
            prompt=self.prompt,
            sampling=self.sampling,
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs,
            # Chunks carry the log-probs a non-streamed answer reports.
            stream_chunks=self.stream or self.logprobs,
            end_before_stored=True,
            account=account,
            executor=executor,
            candidates=sorted(address for address, _ in candidates),
            reserved=reserved,
            requested_at_ms=now_ms,
            deadline_ms=now_ms + int(timeout_s * 1000),
            stream_prefix=stream_prefix,
        )


class CanarySource(Protocol):
    """The canary planter as the dispatcher sees it (attesta_gateway.canaries)."""

    def real_id(self, prefix: str, epoch: int) -> str: ...

    def observe(self, account: str, job: InferenceJob, id_prefix: str) -> None: ...


class Dispatcher:
    def __init__(
        self,
        collector: Collector,
        tasks: set[asyncio.Task[None]],
        canaries: CanarySource | None = None,
    ) -> None:
        self._collector = collector
        self._ctx = collector.ctx
        # Strong references: the event loop keeps only weak ones to tasks.
        self._tasks = tasks
        self.canaries = canaries

    async def _give_back(
        self, reserving: asyncio.Future[bool | None], inference_id: str, exc: BaseException
    ) -> None:
        """Release the escrow of a request that will not be sent, in a task of its own so
        that a cancelled (disconnected) client cannot interrupt it; an error waits for it,
        so the client hears it with its money back."""
        undo = asyncio.create_task(_undo(self._ctx, reserving, inference_id))
        self._tasks.add(undo)
        undo.add_done_callback(self._tasks.discard)
        if isinstance(exc, Exception):
            await asyncio.shield(undo)

    def _new_id(self, id_prefix: str, epoch: int) -> str:
        canaries = self.canaries
        return random_id(id_prefix) if canaries is None else canaries.real_id(id_prefix, epoch)

    def _escrow(
        self, account: Account, need: int, id_prefix: str, epoch: int
    ) -> tuple[str, asyncio.Future[bool | None]]:
        """The request's id and reservation: its account's spare when one covers it (held
        already), or one taken now. Either way the request names `need` as reserved."""
        spares = self._ctx.spares
        spare = None if spares is None else spares.take(account.id, id_prefix, epoch, need)
        if spare is not None:
            held: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
            held.set_result(True)
            return spare.inference_id, held
        inference_id = self._new_id(id_prefix, epoch)
        return inference_id, self._ctx.reservations.reserve(account.id, inference_id, need)

    async def submit(self, account: Account, job: InferenceJob, id_prefix: str) -> Inference:
        ctx = self._ctx
        now_ms = int(time.time() * 1000)
        epoch = epoch_at(ctx.genesis, now_ms)
        canaries = self.canaries
        candidates = ctx.registry.candidates(job.model.name)
        if not candidates:
            raise OpenAIError(
                503,
                f"no executor serving {job.model.name!r} is live right now; retry shortly",
                type=SERVER_ERROR,
                code="no_executor_available",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        # Postgres takes the escrow while the request is signed and its stream subscribed:
        # nothing before the publish needs the answer, and the round trip is then off the
        # request's path (and with a spare there is none).
        reserved = job.reservation(ctx.genesis)
        inference_id, reserving = self._escrow(account, reserved, id_prefix, epoch)
        try:
            if not reserving.done():
                # One turn of the loop: the writer sends its statement and waits for the
                # answer. A spare is held already: nothing to send.
                await asyncio.sleep(0)
            executor = draw_executor(epoch_seed(ctx.genesis, epoch), inference_id, candidates)
            router = stream_router(ctx, executor)
            request = job.request(
                inference_id=inference_id,
                epoch=epoch,
                account=account.id,
                candidates=candidates,
                executor=executor,
                reserved=reserved,
                now_ms=now_ms,
                timeout_s=ctx.settings.request_timeout_s,
                stream_prefix=None if router is None else router.prefix,
            )
            record = sign_event(request, ctx.key)
            try:
                # Read before the request exists, so not one token can be missed.
                if router is not None:
                    stream = router.open(inference_id)
                else:
                    subject = token_stream(inference_id)
                    stream = await TokenStream.open(ctx.broker.connection, subject)
            except Exception as exc:
                raise _unreachable() from exc
        except BaseException as exc:
            await self._give_back(reserving, inference_id, exc)
            raise
        try:
            held = await asyncio.shield(reserving)
            if not held:
                # Perhaps short only because of the account's own spares, or of charges
                # not yet written (their refunds): the spares come back (those in use
                # shrink to their requests' needs), the charges are written, and the
                # reservation is tried once more (shielded: a spare taken off the books
                # but not yet given back would stay held until the settler's pass).
                await asyncio.shield(_make_room(ctx, account.id))
                reserving = ctx.reservations.reserve(account.id, inference_id, reserved)
                held = await asyncio.shield(reserving)
        except BaseException as exc:
            await stream.close()
            await self._give_back(reserving, inference_id, exc)
            raise
        if not held:
            await stream.close()
            raise OpenAIError(
                402,
                f"insufficient balance: this request needs {reserved} in escrow",
                type="insufficient_quota",
                code="insufficient_quota",
            )
        span = trace.get_current_span()
        span.set_attribute("attesta.inference_id", inference_id)
        span.set_attribute("attesta.executor", executor)
        span.set_attribute("gen_ai.request.model", job.model.name)
        inference = Inference(
            inference_id=inference_id,
            executor=executor,
            epoch=epoch,
            seed=job.sampling.seed,
            request_hash=record.hash,
            created=now_ms // 1000,
        )
        task = asyncio.create_task(
            self._collector.run(inference, stream, record), name=f"inference-{inference_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # Shielded: a client that disconnects now stops waiting, not the publish.
        if not await asyncio.shield(inference.published):
            raise _unreachable()
        if ctx.spares is not None:
            # Once the request is out: the spare's statement then runs beside the
            # executor's work, not before this request's publish (a sequential client's
            # path, docs/overhead.md).
            ctx.spares.refill(account.id, id_prefix, epoch, reserved, self._new_id)
        if canaries is not None:
            canaries.observe(account.id, job, id_prefix)
        return inference


def stream_router(ctx: GatewayContext, executor: str) -> StreamRouter | None:
    """Where a request to `executor` has its token stream read: this gateway's shared
    subscription when the executor announced it can send under its prefix, else None (a
    subscription of the inference's own)."""
    if ctx.streams is None or not ctx.registry.supports(executor, STREAM_PREFIX_FEATURE):
        return None
    return ctx.streams


def stream_prefix(ctx: GatewayContext, executor: str) -> str | None:
    """The prefix a request to `executor` names. Canaries name it the same way, or the
    field would tell them apart."""
    router = stream_router(ctx, executor)
    return None if router is None else router.prefix


async def _make_room(ctx: GatewayContext, account_id: str) -> None:
    if ctx.spares is not None:
        await ctx.spares.give_back(account_id)
    await ctx.charges.flush()


async def _undo(
    ctx: GatewayContext, reserving: asyncio.Future[bool | None], inference_id: str
) -> None:
    """Give back an escrow that was (or is still being) taken for a request that will not
    be sent."""
    try:
        if await reserving:
            await accounts.release(ctx.pool, inference_id)
    except Exception:
        # The reserve failed (nothing was taken) or the release did: the settler closes
        # stale held reservations.
        log.exception("inference %s: giving back its reservation failed", inference_id)


def _unreachable() -> OpenAIError:
    return OpenAIError(
        503,
        "the network could not take the request; it was not charged, retry shortly",
        type=SERVER_ERROR,
        code="network_unavailable",
        headers={"Retry-After": RETRY_AFTER_S},
    )
