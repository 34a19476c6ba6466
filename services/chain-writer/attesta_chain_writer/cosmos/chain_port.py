"""The few chain calls the Cosmos anchor needs, as a port.

Production drives it with cosmpy (`cosmpy_client`); tests drive it with an in-process
chain that replays recorded exchanges. Every call is synchronous, like cosmpy: the
anchor runs them in worker threads. Failures are told apart by what the caller must do:
retry later (`ChainUnavailable`), re-read the account sequence (`SequenceMismatch`), or
give up on this transaction (`ChainRejected`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Cosmos SDK error codes (codespace "sdk") that change what the signer does.
CODE_TX_IN_MEMPOOL = 19
CODE_WRONG_SEQUENCE = 32


class ChainError(RuntimeError):
    """Base of the chain port's errors."""


class ChainUnavailable(ChainError):
    """The node did not answer (connection, timeout, 5xx): the same call may be retried."""


class SequenceMismatch(ChainError):
    """The transaction's account sequence is not the account's next one."""


class ChainRejected(ChainError):
    """The chain refused the transaction (fee, gas, memo, ...); resending it cannot help."""

    def __init__(self, code: int, log: str) -> None:
        super().__init__(f"transaction rejected with code {code}: {log}")
        self.code = code
        self.log = log


@dataclass(frozen=True)
class AccountInfo:
    number: int
    sequence: int


@dataclass(frozen=True)
class ChainTx:
    """A transaction as included in a block; `code` 0 means it was executed."""

    tx_hash: str
    height: int
    code: int
    memo: str
    log: str = ""


class ChainClient(Protocol):
    chain_id: str

    def account(self, address: str) -> AccountInfo: ...

    def max_memo_characters(self) -> int: ...

    def simulate(self, tx_bytes: bytes) -> int:
        """Gas the transaction would use."""
        ...

    def broadcast(self, tx_bytes: bytes) -> str:
        """Submit to the mempool (checked, not yet included); returns the hash (upper hex).

        Raises `SequenceMismatch` or `ChainRejected` when the check fails; a transaction
        already in the mempool counts as submitted.
        """
        ...

    def get_tx(self, tx_hash: str) -> ChainTx | None:
        """The included transaction, or None while it is not in a block."""
        ...
