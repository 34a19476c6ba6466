"""The running gateway as the tests see it: URL, app state, database and fake executors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_gateway import accounts
from attesta_gateway.context import GatewayContext
from fastapi import FastAPI
from gateway_fakes import FakeExecutor


@dataclass
class Gateway:
    app: FastAPI
    url: str
    pool: asyncpg.Pool
    genesis: Genesis
    keys: DevnetKeys
    executors: list[FakeExecutor]
    # Shuts the gateway down (as SIGTERM would); the fixture does it at the test's end.
    stop: Callable[[], Awaitable[None]] | None = None

    @property
    def ctx(self) -> GatewayContext:
        ctx: GatewayContext = self.app.state.ctx
        return ctx

    @property
    def model(self) -> str:
        return self.genesis.models[0].name

    async def new_key(self, balance: int = 1_000_000, name: str = "test") -> tuple[str, str]:
        api_key = accounts.new_api_key()
        account = await accounts.create_account(self.pool, name, api_key, balance)
        assert account is not None
        return api_key, account.id

    async def balance(self, account_id: str) -> int:
        """The balance once the account's spare reservations (attesta_gateway.spares) are
        given back: what it holds apart from its requests' escrow."""
        spares = self.ctx.spares
        if spares is not None:
            await spares.give_back(account_id, pause=False)
        return int(await self.pool.fetchval("SELECT balance FROM accounts WHERE id=$1", account_id))

    async def reservation(self, inference_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM reservations WHERE inference_id = $1", inference_id
        )

    async def wait_reservation(self, inference_id: str, state: str, timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                row = await self.reservation(inference_id)
                if row is not None and row["state"] == state:
                    return row
                await asyncio.sleep(0.05)

    def client(self, api_key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=20.0, **kwargs)

    def executor_by_address(self, address: str) -> FakeExecutor:
        return next(e for e in self.executors if e.address == address)


StartGateway = Callable[..., Awaitable[Gateway]]
