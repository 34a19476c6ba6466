"""The one signer of anchoring transactions: account sequence, fee and gas, broadcast.

Synchronous like cosmpy, called from worker threads; a lock serialises signing and
broadcasting, because two transactions signed with the same sequence would make the
chain reject one. The sequence is read from the chain once and then counted locally; a
"sequence mismatch" from the node (another client used the account, or a transaction
of ours was dropped) makes the next signature read it again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cosmpy.crypto.keypairs import PrivateKey

from attesta_chain_writer.cosmos.chain_port import AccountInfo, ChainClient, SequenceMismatch
from attesta_chain_writer.cosmos.memo import AnchorMemo
from attesta_chain_writer.cosmos.tx import SignedTx, TxParams, build_anchor_tx, signer_address

# Simulation underestimates slightly (signature verification is charged by size).
_GAS_MARGIN = 1.3


@dataclass(frozen=True)
class FeePolicy:
    denom: str
    fee_amount: int
    gas_limit: int  # 0: simulate each transaction
    contract: str | None = None


class AnchorSigner:
    def __init__(self, chain: ChainClient, key: PrivateKey, prefix: str, fees: FeePolicy) -> None:
        self._chain = chain
        self._key = key
        self._fees = fees
        self.address = signer_address(key, prefix)
        self._prefix = prefix
        self._account: AccountInfo | None = None
        self._lock = threading.Lock()

    def sign(self, memo: AnchorMemo) -> SignedTx:
        """A transaction for the account's next sequence (not yet broadcast)."""
        with self._lock:
            if self._account is None:
                self._account = self._chain.account(self.address)
            gas = self._fees.gas_limit or self._simulated_gas(memo, self._account)
            return build_anchor_tx(self._key, self._prefix, memo, self._params(self._account, gas))

    def broadcast(self, signed: SignedTx) -> None:
        """Submit; on success the next signature uses the following sequence."""
        with self._lock:
            try:
                self._chain.broadcast(signed.tx_bytes)
            except SequenceMismatch:
                self._account = None
                raise
            if self._account is not None and self._account.sequence <= signed.sequence:
                self._account = AccountInfo(self._account.number, signed.sequence + 1)

    def forget_sequence(self) -> None:
        with self._lock:
            self._account = None

    def _simulated_gas(self, memo: AnchorMemo, account: AccountInfo) -> int:
        # Simulation needs a signed transaction; its gas limit does not matter.
        probe = build_anchor_tx(self._key, self._prefix, memo, self._params(account, 0))
        return int(self._chain.simulate(probe.tx_bytes) * _GAS_MARGIN) + 1

    def _params(self, account: AccountInfo, gas: int) -> TxParams:
        return TxParams(
            chain_id=self._chain.chain_id,
            account_number=account.number,
            sequence=account.sequence,
            denom=self._fees.denom,
            fee_amount=self._fees.fee_amount,
            gas_limit=gas,
            contract=self._fees.contract,
        )
