"""Startup refuses a wrong identity; shutdown drains, then cancels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_gateway.lifespan import drain_inferences, load_gateway_key, load_genesis
from attesta_gateway.settings import GatewaySettings
from attesta_settler.payouts import ORPHAN_AFTER_S
from pydantic import ValidationError


def test_startup_needs_genesis_and_a_gateway_key(
    tmp_path: Path, genesis: Genesis, devnet_keys: DevnetKeys
) -> None:
    settings = GatewaySettings(
        genesis_path=tmp_path / "genesis.json", key_path=tmp_path / "gateway.key"
    )
    with pytest.raises(RuntimeError, match="ATTESTA_GENESIS_PATH"):
        load_genesis(settings)
    genesis.save(settings.genesis_path)
    assert load_genesis(settings) == genesis
    with pytest.raises(RuntimeError, match="ATTESTA_KEY_PATH"):
        load_gateway_key(settings, genesis)
    devnet_keys.executors[0].save(settings.key_path)
    with pytest.raises(RuntimeError, match="not a gateway"):
        load_gateway_key(settings, genesis)
    devnet_keys.gateway.save(settings.key_path)
    assert load_gateway_key(settings, genesis).address == devnet_keys.gateway.address


def test_a_request_cannot_outlive_the_settlers_orphan_window() -> None:
    """The settler gives back reservations no request record names after ORPHAN_AFTER_S:
    a request timeout that long could see its reservation given back while it runs."""
    assert GatewaySettings(request_timeout_s=1800).request_timeout_s * 2 <= ORPHAN_AFTER_S
    with pytest.raises(ValidationError):
        GatewaySettings(request_timeout_s=ORPHAN_AFTER_S)


async def test_drain_waits_for_quick_tasks_and_cancels_stuck_ones() -> None:
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def stuck() -> None:
        await asyncio.sleep(60)

    tasks = {asyncio.create_task(quick()), asyncio.create_task(stuck())}
    await drain_inferences(tasks, timeout_s=0.3)
    assert finished == ["quick"]
    assert all(task.done() for task in tasks)
    assert sum(task.cancelled() for task in tasks) == 1
