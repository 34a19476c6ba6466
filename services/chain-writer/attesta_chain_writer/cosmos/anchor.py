"""`CosmosAnchor`: the `ChainAnchor` adapter that anchors each batch in one Cosmos tx.

Exactly one transaction per batch reaches the chain: its signed bytes are stored
(`cosmos_anchors`) before the first broadcast, and every later attempt, after a timeout
or a restart, first looks that transaction up and resends the same bytes (the node
answers "already in mempool" or includes it once). Only a transaction that can no longer
be included (refused, failed, or its sequence used up) is replaced by a new signature.
cosmpy blocks, so every chain call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import asyncpg

from attesta_chain_writer.anchor_port import AnchorConflict, AnchorReceipt, SealedBatch
from attesta_chain_writer.cosmos.chain_port import (
    ChainClient,
    ChainRejected,
    ChainTx,
    ChainUnavailable,
    SequenceMismatch,
)
from attesta_chain_writer.cosmos.memo import MEMO_LENGTH, AnchorMemo
from attesta_chain_writer.cosmos.policy import InclusionTimeout, RetryPolicy
from attesta_chain_writer.cosmos.signer import AnchorSigner
from attesta_chain_writer.cosmos.store import AnchorRow, load_row, mark_state, save_signed

COSMOS_KIND = "cosmos"
log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_T = TypeVar("_T")


class CosmosAnchor:
    kind = COSMOS_KIND

    def __init__(
        self,
        pool: asyncpg.Pool,
        chain: ChainClient,
        signer: AnchorSigner,
        epoch_of: Callable[[], int],
        policy: RetryPolicy | None = None,
    ) -> None:
        self._pool = pool
        self._chain = chain
        self._signer = signer
        self._epoch_of = epoch_of
        self._policy = policy or RetryPolicy()
        self._lock = asyncio.Lock()
        self._started = False

    async def start(self) -> None:
        """Check that the chain takes memos as long as ours (its auth parameters)."""
        limit = await asyncio.to_thread(self._chain.max_memo_characters)
        if limit < MEMO_LENGTH:
            raise RuntimeError(f"chain memo limit {limit} is below the {MEMO_LENGTH} needed")
        self._started = True

    async def lookup(self, batch_seq: int) -> AnchorReceipt | None:
        row = await load_row(self._pool, batch_seq)
        if row is None or row.state != "included" or row.height is None:
            return None
        return AnchorReceipt(kind=COSMOS_KIND, ref=row.tx.tx_hash, height=row.height)

    async def anchor(self, batch: SealedBatch) -> AnchorReceipt:
        async with self._lock:
            if not self._started:
                await self.start()
            delay = self._policy.backoff_s
            for attempt in range(self._policy.retries + 1):
                try:
                    return await self._attempt(batch)
                except (ChainUnavailable, SequenceMismatch) as exc:
                    if attempt == self._policy.retries:
                        raise
                    log.warning(
                        "anchoring batch %d: %s; retry in %.1fs", batch.batch_seq, exc, delay
                    )
                    await asyncio.sleep(delay)
                    delay *= 2
            raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(self, batch: SealedBatch) -> AnchorReceipt:
        row = await load_row(self._pool, batch.batch_seq)
        if row is not None and (row.merkle_root, row.leaf_count) != (
            batch.merkle_root,
            batch.leaf_count,
        ):
            raise AnchorConflict(
                f"batch {batch.batch_seq} is already anchored with root {row.merkle_root}"
            )
        if row is not None and row.state == "included" and row.height is not None:
            return AnchorReceipt(kind=COSMOS_KIND, ref=row.tx.tx_hash, height=row.height)
        if row is not None and row.state == "signed":
            found = await self._call(self._chain.get_tx, row.tx.tx_hash)
            if found is not None:
                return await self._settle(row, found)
        if row is None or row.state == "rejected":
            row = await self._sign(batch, self._epoch_of() if row is None else row.epoch)
        try:
            await self._call(self._signer.broadcast, row.tx)
        except SequenceMismatch:
            # Not found above, so its sequence went to something else: sign anew next time.
            found = await self._call(self._chain.get_tx, row.tx.tx_hash)
            if found is not None:
                return await self._settle(row, found)
            await mark_state(self._pool, row.batch_seq, row.tx.tx_hash, "rejected")
            raise
        except ChainRejected:
            await mark_state(self._pool, row.batch_seq, row.tx.tx_hash, "rejected")
            raise
        return await self._settle(row, await self._wait_included(row.tx.tx_hash))

    async def _sign(self, batch: SealedBatch, epoch: int) -> AnchorRow:
        memo = AnchorMemo(epoch, batch.batch_seq, batch.merkle_root, batch.leaf_count)
        signed = await self._call(self._signer.sign, memo)
        row = AnchorRow(
            batch.batch_seq, batch.merkle_root, batch.leaf_count, epoch, signed, "signed", None
        )
        await save_signed(self._pool, row)
        return row

    async def _wait_included(self, tx_hash: str) -> ChainTx:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.inclusion_timeout_s
        while True:
            found = await self._call(self._chain.get_tx, tx_hash)
            if found is not None:
                return found
            if loop.time() >= deadline:
                raise InclusionTimeout(
                    f"tx {tx_hash} not in a block after {self._policy.inclusion_timeout_s}s"
                )
            await asyncio.sleep(self._policy.poll_interval_s)

    async def _settle(self, row: AnchorRow, tx: ChainTx) -> AnchorReceipt:
        if tx.code != 0:
            # In a block but failed (out of gas, ...): the root is not on chain.
            await mark_state(self._pool, row.batch_seq, row.tx.tx_hash, "rejected")
            raise ChainRejected(tx.code, tx.log)
        await mark_state(self._pool, row.batch_seq, row.tx.tx_hash, "included", tx.height)
        return AnchorReceipt(kind=COSMOS_KIND, ref=row.tx.tx_hash, height=tx.height)

    @staticmethod
    async def _call(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await asyncio.to_thread(fn, *args, **kwargs)
