"""GET /v1/models: the genesis models that a live executor serves right now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from attesta_gateway.accounts import Account
from attesta_gateway.auth import authenticate
from attesta_gateway.context import GatewayContext
from attesta_gateway.protocol import ModelCard, ModelList

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request, _: Annotated[Account, Depends(authenticate)]) -> ModelList:
    ctx: GatewayContext = request.app.state.ctx
    created = ctx.genesis.genesis_time_ms // 1000
    return ModelList(
        data=[ModelCard(id=name, created=created) for name in ctx.registry.served_models()]
    )
