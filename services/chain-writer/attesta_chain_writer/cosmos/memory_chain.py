"""An in-process chain behind the chain port: checks sequences and signatures like a
Cosmos node, includes transactions in blocks, and can be told to fail the next calls.

Tests replay recorded node behaviour with it (sequence mismatch, timeouts, rejections),
and the anchoring benchmark measures real transaction bytes without a node.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PublicKey
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxBody, TxRaw

from attesta_chain_writer.cosmos.chain_port import (
    AccountInfo,
    ChainError,
    ChainTx,
)
from attesta_chain_writer.cosmos.cosmpy_client import check_broadcast
from attesta_chain_writer.cosmos.tx import tx_hash


@dataclass
class MemoryChain:
    chain_id: str
    prefix: str = "attesta"
    memo_limit: int = 256
    # Include broadcast transactions at the next `get_tx` (a chain with instant blocks).
    auto_blocks: bool = True
    height: int = 1
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    included: dict[str, ChainTx] = field(default_factory=dict)
    mempool: dict[str, ChainTx] = field(default_factory=dict)
    # (call name, what happened): the exchange as the adapter saw it.
    exchanges: list[tuple[str, str]] = field(default_factory=list)
    _faults: dict[str, deque[ChainError | int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, call: str, fault: ChainError | int) -> None:
        """Make the next `call` raise `fault`, or for `broadcast` answer CheckTx code `fault`."""
        self._faults.setdefault(call, deque()).append(fault)

    def account(self, address: str) -> AccountInfo:
        with self._lock:
            self._fault("account")
            info = self.accounts.setdefault(
                address, AccountInfo(number=len(self.accounts), sequence=0)
            )
            self.exchanges.append(("account", f"sequence {info.sequence}"))
            return info

    def max_memo_characters(self) -> int:
        self._fault("max_memo_characters")
        return self.memo_limit

    def simulate(self, tx_bytes: bytes) -> int:
        self._fault("simulate")
        return 60_000 + 10 * len(tx_bytes)

    def broadcast(self, tx_bytes: bytes) -> str:
        with self._lock:
            digest = tx_hash(tx_bytes)
            code = self._fault("broadcast")
            if code is None:
                code, log = self._check(tx_bytes, digest)
            else:
                log = f"scripted code {code}"
            self.exchanges.append(("broadcast", f"code {code}"))
            check_broadcast(code, log)
            return digest

    def get_tx(self, tx_hash_hex: str) -> ChainTx | None:
        with self._lock:
            self._fault("get_tx")
            if self.auto_blocks:
                self._produce_block()
            found = self.included.get(tx_hash_hex)
            self.exchanges.append(("get_tx", "found" if found else "not found"))
            return found

    def produce_block(self) -> None:
        with self._lock:
            self._produce_block()

    def _produce_block(self) -> None:
        if not self.mempool:
            return
        self.height += 1
        for digest, tx in self.mempool.items():
            self.included[digest] = ChainTx(digest, self.height, tx.code, tx.memo, tx.log)
        self.mempool.clear()

    def _check(self, tx_bytes: bytes, digest: str) -> tuple[int, str]:
        if digest in self.mempool:
            return 19, "tx already exists in cache"
        raw = TxRaw.FromString(tx_bytes)
        body, auth = TxBody.FromString(raw.body_bytes), AuthInfo.FromString(raw.auth_info_bytes)
        key = PubKey.FromString(auth.signer_infos[0].public_key.value).key
        address = str(Address(PublicKey(key), self.prefix))
        info = self.accounts.setdefault(address, AccountInfo(len(self.accounts), 0))
        if auth.signer_infos[0].sequence != info.sequence:
            return 32, f"account sequence mismatch, expected {info.sequence}"
        doc = SignDoc(
            body_bytes=raw.body_bytes,
            auth_info_bytes=raw.auth_info_bytes,
            chain_id=self.chain_id,
            account_number=info.number,
        )
        if not PublicKey(key).verify(doc.SerializeToString(), raw.signatures[0]):
            return 4, "signature verification failed"
        if len(body.memo) > self.memo_limit:
            return 12, "memo too large"
        self.accounts[address] = AccountInfo(info.number, info.sequence + 1)
        self.mempool[digest] = ChainTx(digest, 0, 0, body.memo)
        return 0, ""

    def _fault(self, call: str) -> int | None:
        queue = self._faults.get(call)
        if not queue:
            return None
        fault = queue.popleft()
        self.exchanges.append((call, f"fault {fault!r}"))
        if isinstance(fault, int):
            return fault
        raise fault
