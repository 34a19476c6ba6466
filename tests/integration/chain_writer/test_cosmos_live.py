"""The Cosmos anchor against a live chain (opt-in: docs/cosmos.md starts one).

    ATTESTA_COSMOS_LCD=http://127.0.0.1:1317 ATTESTA_COSMOS_CHAIN_ID=attesta-anchor \\
    ATTESTA_COSMOS_KEY=<hex secret of a funded account> ATTESTA_COSMOS_PREFIX=cosmos \\
    ATTESTA_COSMOS_DENOM=stake pytest -m cosmos tests/integration/chain_writer
"""

from __future__ import annotations

import hashlib
import os

import asyncpg
import pytest
from attesta_chain_writer.anchor_port import SealedBatch
from attesta_chain_writer.cosmos.anchor import CosmosAnchor, RetryPolicy
from attesta_chain_writer.cosmos.cosmpy_client import CosmpyChain
from attesta_chain_writer.cosmos.memo import AnchorMemo
from attesta_chain_writer.cosmos.signer import AnchorSigner, FeePolicy
from attesta_common.keys import SigningKey

LCD = os.environ.get("ATTESTA_COSMOS_LCD", "")

pytestmark = [
    pytest.mark.cosmos,
    pytest.mark.skipif(not LCD, reason="set ATTESTA_COSMOS_LCD to run against a live chain"),
]


async def test_batch_is_anchored_once_on_the_live_chain(pool: asyncpg.Pool) -> None:
    denom = os.environ.get("ATTESTA_COSMOS_DENOM", "stake")
    chain = CosmpyChain(f"rest+{LCD}", os.environ["ATTESTA_COSMOS_CHAIN_ID"], denom)
    key = SigningKey.from_hex(os.environ["ATTESTA_COSMOS_KEY"])
    prefix = os.environ.get("ATTESTA_COSMOS_PREFIX", "cosmos")
    fees = FeePolicy(denom, int(os.environ.get("ATTESTA_COSMOS_FEE", "2000")), 0)
    signer = AnchorSigner(chain, key.cosmpy_key, prefix, fees)
    anchor = CosmosAnchor(pool, chain, signer, lambda: 1, RetryPolicy(30.0, 1.0, 3, 1.0))
    batch = SealedBatch(1, hashlib.sha256(os.urandom(16)).hexdigest(), 17)

    receipt = await anchor.anchor(batch)
    tx = chain.get_tx(receipt.ref)
    assert tx is not None and tx.code == 0 and tx.height == receipt.height
    assert AnchorMemo.decode(tx.memo) == AnchorMemo(1, 1, batch.merkle_root, 17)
    assert await anchor.anchor(batch) == receipt
