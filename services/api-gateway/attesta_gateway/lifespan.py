"""Startup and shutdown: genesis and key, Postgres, NATS, heartbeats, serving objects."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import AsyncIterator

import asyncpg
import nats.errors
from attesta_common.broker import ensure_streams, make_broker
from attesta_common.canary import load_canary_key
from attesta_common.db import create_pool, migrate
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.record_publisher import RecordPublisher
from attesta_common.roles import Role
from attesta_common.subjects import EXECUTOR_HEARTBEAT
from fastapi import FastAPI
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from attesta_gateway import accounts
from attesta_gateway.access_log import write_after_response
from attesta_gateway.canaries import CanaryPlanter
from attesta_gateway.charges import ChargeBatcher
from attesta_gateway.collection import Collector
from attesta_gateway.context import GatewayContext, ProofLoader
from attesta_gateway.dispatch import Dispatcher
from attesta_gateway.executors import ExecutorRegistry
from attesta_gateway.key_cache import KeyCache
from attesta_gateway.reservations import ReservationBatcher
from attesta_gateway.serving_chat import OpenAIServingChat
from attesta_gateway.serving_completions import OpenAIServingCompletion
from attesta_gateway.settings import GatewaySettings
from attesta_gateway.spares import SpareReservations
from attesta_gateway.token_streams import StreamRouter

log = logging.getLogger(__name__)

# The gateway owns the accounts tables; the other two are migrated here only so the read
# endpoints work when the gateway starts first (each owner migrates its own, idempotently).
_READ_MODELS = (("settler", "attesta_settler"), ("chain_writer", "attesta_chain_writer"))


def load_genesis(settings: GatewaySettings) -> Genesis:
    if not settings.genesis_path.exists():
        raise RuntimeError(f"genesis {settings.genesis_path} not found (ATTESTA_GENESIS_PATH)")
    return Genesis.load(settings.genesis_path)


def load_gateway_key(settings: GatewaySettings, genesis: Genesis) -> SigningKey:
    if not settings.key_path.exists():
        raise RuntimeError(f"gateway key {settings.key_path} not found (ATTESTA_KEY_PATH)")
    key = SigningKey.load(settings.key_path)
    if not genesis.has_role(key.address, Role.GATEWAY):
        raise RuntimeError(
            f"key {settings.key_path} ({key.address}) is not a gateway in the genesis "
            f"{settings.genesis_path}: its requests would be rejected by every executor"
        )
    return key


async def migrate_tables(pool: asyncpg.Pool) -> None:
    await migrate(pool, "common", "attesta_common")
    for component, package in _READ_MODELS:
        if importlib.util.find_spec(package) is not None:
            await migrate(pool, component, package)


def default_proof_loader() -> ProofLoader | None:
    """attesta_chain_writer.proofs.load_proof, imported lazily: the gateway runs without it."""
    try:
        from attesta_chain_writer.proofs import load_proof
    except ImportError:
        log.warning("attesta_chain_writer.proofs is not importable: ledger proofs disabled")
        return None
    loader: ProofLoader = load_proof
    return loader


def canary_planter(ctx: GatewayContext) -> CanaryPlanter | None:
    settings = ctx.settings
    if settings.canary_key_path is None or not settings.canary_executors:
        return None
    strangers = [a for a in settings.canary_executors if not ctx.genesis.has_role(a, Role.EXECUTOR)]
    if strangers:
        raise RuntimeError(f"ATTESTA_CANARY_EXECUTORS names non-executors: {strangers}")
    key = load_canary_key(settings.canary_key_path)
    log.info("planting canaries at rate %g on %s", settings.canary_rate, settings.canary_executors)
    return CanaryPlanter(ctx, key, frozenset(settings.canary_executors))


def spare_reservations(
    settings: GatewaySettings, pool: asyncpg.Pool, reservations: ReservationBatcher
) -> SpareReservations:
    async def release(inference_ids: list[str]) -> object:
        return await accounts.close_many(pool, dict.fromkeys(inference_ids, 0), "released")

    async def shrink(keep: dict[str, int]) -> object:
        return await accounts.shrink_many(pool, keep)

    return SpareReservations(
        reservations.reserve,
        release,
        shrink,
        idle_s=settings.spare_idle_s,
        headroom=settings.spare_headroom,
        # Past its deadline and grace a request that took a spare has been answered; a
        # minute more for its charge.
        request_lifetime_s=settings.request_timeout_s + settings.deadline_grace_s + 60.0,
    )


async def drain_inferences(tasks: set[asyncio.Task[None]], timeout_s: float) -> None:
    """Let running inferences finish (and be charged), then cancel what is left."""
    if tasks:
        log.info("waiting up to %.1fs for %d inferences", timeout_s, len(tasks))
        await asyncio.wait(set(tasks), timeout=timeout_s)
    leftover = set(tasks)
    for task in leftover:
        task.cancel()
    await asyncio.gather(*leftover, return_exceptions=True)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: GatewaySettings = app.state.settings
    genesis = load_genesis(settings)
    key = load_gateway_key(settings, genesis)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(write_after_response(asyncio.get_running_loop()))
        pool = await create_pool(settings.database_url)
        stack.push_async_callback(pool.close)
        await migrate_tables(pool)
        charges = ChargeBatcher(pool, linger_s=settings.charge_linger_s)
        reservations = ReservationBatcher(pool)
        # Unwound before the pool closes: the last charges and reservations are written first.
        stack.push_async_callback(charges.close)
        stack.push_async_callback(reservations.close)
        spares = None
        if settings.spare_reservations:
            spares = spare_reservations(settings, pool, reservations)
            spares.start()
            # Unwound before the batchers: the spares' releases are written first.
            stack.push_async_callback(spares.close)

        broker = make_broker(settings.nats_url, app.state.tracer_provider)
        await broker.connect()
        stack.push_async_callback(_stop_broker, broker)
        nc = broker.connection
        await ensure_streams(nc.jetstream())

        registry = ExecutorRegistry(
            genesis, settings.heartbeat_ttl_s, settings.heartbeat_max_skew_s
        )

        async def on_heartbeat(msg: Msg) -> None:
            registry.handle(msg.data)

        # Core NATS straight from the client: heartbeats are ephemeral, need no ack, and
        # arrive every second per executor, too often for per-message broker logging.
        heartbeats = await nc.subscribe(EXECUTOR_HEARTBEAT, cb=on_heartbeat)
        stack.push_async_callback(_quietly_unsubscribe, heartbeats)

        # One subscription for the token streams of executors that announce they can
        # send under a prefix (attesta_gateway.token_streams).
        streams = StreamRouter(nc)
        await streams.start()
        stack.push_async_callback(streams.close)

        ctx = GatewayContext(
            settings=settings,
            genesis=genesis,
            key=key,
            pool=pool,
            charges=charges,
            reservations=reservations,
            broker=broker,
            records=RecordPublisher(broker, app.state.tracer_provider),
            registry=registry,
            keys=KeyCache(settings.key_cache_ttl_s),
            spares=spares,
            streams=streams,
        )
        tasks: set[asyncio.Task[None]] = set()
        planter = canary_planter(ctx)
        if planter is not None:
            planter.start()
            stack.push_async_callback(planter.stop)
        app.state.canaries = planter
        dispatcher = Dispatcher(Collector(ctx), tasks, planter)
        app.state.ctx = ctx
        app.state.inference_tasks = tasks
        app.state.serving_chat = OpenAIServingChat(ctx, dispatcher)
        app.state.serving_completions = OpenAIServingCompletion(ctx, dispatcher)
        if app.state.proofs is None:
            app.state.proofs = default_proof_loader()
        log.info("gateway %s serving on NATS %s", key.address, settings.nats_url)
        yield
        await drain_inferences(tasks, settings.shutdown_drain_s)


async def _stop_broker(broker: NatsBroker) -> None:
    # Draining a connection that is already closed raises; there is nothing left to drain.
    with contextlib.suppress(nats.errors.ConnectionClosedError):
        await broker.stop()


async def _quietly_unsubscribe(subscription: Subscription) -> None:
    # At shutdown the connection may already be gone, and the subscription with it.
    with contextlib.suppress(Exception):
        await subscription.unsubscribe()
