"""Building the Cosmos anchor from the chain-writer settings."""

from __future__ import annotations

import time

import asyncpg
from attesta_common.epochs import epoch_at
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey

from attesta_chain_writer.cosmos.anchor import CosmosAnchor
from attesta_chain_writer.cosmos.chain_port import ChainClient
from attesta_chain_writer.cosmos.cosmpy_client import CosmpyChain
from attesta_chain_writer.cosmos.policy import RetryPolicy
from attesta_chain_writer.cosmos.signer import AnchorSigner, FeePolicy
from attesta_chain_writer.settings import ChainWriterSettings


def build_cosmos_anchor(
    settings: ChainWriterSettings,
    genesis: Genesis,
    key: SigningKey,
    pool: asyncpg.Pool,
    chain: ChainClient | None = None,
) -> CosmosAnchor:
    """The anchor over cosmpy, or over `chain` (a test double of the same port)."""
    if chain is None:
        chain = CosmpyChain(
            settings.cosmos_url,
            settings.cosmos_chain_id,
            settings.cosmos_denom,
            timeout_s=settings.cosmos_request_timeout_s,
        )
    fees = FeePolicy(
        denom=settings.cosmos_denom,
        fee_amount=settings.cosmos_fee_amount,
        gas_limit=settings.cosmos_gas_limit,
        contract=settings.cosmos_contract,
    )
    signer = AnchorSigner(chain, key.cosmpy_key, settings.cosmos_address_prefix, fees)
    policy = RetryPolicy(
        inclusion_timeout_s=settings.cosmos_inclusion_timeout_s,
        poll_interval_s=settings.cosmos_poll_interval_s,
        retries=settings.cosmos_retries,
        backoff_s=settings.cosmos_backoff_s,
    )
    return CosmosAnchor(
        pool, chain, signer, lambda: epoch_at(genesis, int(time.time() * 1000)), policy
    )
