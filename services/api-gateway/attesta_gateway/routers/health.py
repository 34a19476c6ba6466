"""GET /health (dependencies reachable) and GET /health/live (the process serves)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from attesta_gateway.context import GatewayContext

log = logging.getLogger(__name__)
router = APIRouter()

# A health probe must answer quickly even when the database hangs.
DB_PROBE_TIMEOUT_S = 2.0


async def _database_ok(ctx: GatewayContext) -> bool:
    try:
        async with asyncio.timeout(DB_PROBE_TIMEOUT_S):
            return bool(await ctx.pool.fetchval("SELECT 1") == 1)
    except Exception as exc:
        log.warning("health: database unreachable: %s", exc)
        return False


def _nats_ok(ctx: GatewayContext) -> bool:
    try:
        return bool(ctx.broker.connection.is_connected)
    except Exception:  # the broker raises when it holds no connection at all
        return False


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    ctx: GatewayContext | None = getattr(request.app.state, "ctx", None)
    if ctx is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    nats_ok = _nats_ok(ctx)
    db_ok = await _database_ok(ctx)
    body = {
        "status": "ok" if nats_ok and db_ok else "unavailable",
        "nats": nats_ok,
        "database": db_ok,
        "live_executors": len(ctx.registry.live()),
    }
    return JSONResponse(body, status_code=200 if nats_ok and db_ok else 503)


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
