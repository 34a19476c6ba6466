"""The `net` fixture: NATS streams, a migrated database and a short-epoch genesis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from attesta_common.broker import ensure_streams
from attesta_common.db import create_pool, migrate
from attesta_devnet.genesis_builder import DevnetKeys
from settler_records import short_epoch_genesis
from settler_scenario import Net


@pytest.fixture
async def net(nats_url: str, database_url: str, devnet_keys: DevnetKeys) -> AsyncIterator[Net]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    pool = await create_pool(database_url)
    await migrate(pool, "common", "attesta_common")
    await migrate(pool, "settler", "attesta_settler")
    try:
        yield Net(devnet_keys, short_epoch_genesis(devnet_keys), js, pool, nats_url, database_url)
    finally:
        await pool.close()
        await nc.close()
