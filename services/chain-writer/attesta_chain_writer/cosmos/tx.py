"""Building and signing one anchoring transaction offline, with cosmpy.

The transaction is a self-transfer of the smallest amount (the bank module refuses an
empty one) carrying the anchor memo, or, when a CosmWasm contract is configured, a call
`{"anchor": {...}}` of that contract carrying the same memo, so that verification reads
the memo in both cases. Signing is SIGN_MODE_DIRECT and deterministic (RFC 6979), so the
same inputs give the same bytes and the same hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cosmpy.aerial.coins import Coin
from cosmpy.aerial.tx import SigningCfg, Transaction, TxFee
from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin as CoinProto
from cosmpy.protos.cosmwasm.wasm.v1.tx_pb2 import MsgExecuteContract

from attesta_chain_writer.cosmos.memo import AnchorMemo


@dataclass(frozen=True)
class TxParams:
    chain_id: str
    account_number: int
    sequence: int
    denom: str
    fee_amount: int
    gas_limit: int
    contract: str | None = None


@dataclass(frozen=True)
class SignedTx:
    tx_bytes: bytes
    tx_hash: str  # upper hex of sha256(tx_bytes), as Cosmos names transactions
    sequence: int


def tx_hash(tx_bytes: bytes) -> str:
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def signer_address(key: PrivateKey, prefix: str) -> str:
    return str(Address(key.public_key, prefix))


def _message(sender: str, memo: AnchorMemo, params: TxParams) -> MsgSend | MsgExecuteContract:
    if params.contract:
        call = {
            "anchor": {
                "epoch": memo.epoch,
                "batch_seq": memo.batch_seq,
                "merkle_root": memo.merkle_root,
                "leaf_count": memo.leaf_count,
            }
        }
        return MsgExecuteContract(
            sender=sender,
            contract=params.contract,
            msg=json.dumps(call, separators=(",", ":"), sort_keys=True).encode(),
        )
    return MsgSend(
        from_address=sender,
        to_address=sender,
        amount=[CoinProto(denom=params.denom, amount="1")],
    )


def build_anchor_tx(key: PrivateKey, prefix: str, memo: AnchorMemo, params: TxParams) -> SignedTx:
    sender = signer_address(key, prefix)
    tx = Transaction()
    tx.add_message(_message(sender, memo, params))
    fee = TxFee(
        amount=[Coin(params.fee_amount, params.denom)] if params.fee_amount else None,
        gas_limit=params.gas_limit,
    )
    tx.seal(SigningCfg.direct(key.public_key, params.sequence), fee=fee, memo=memo.encode())
    tx.sign(key, params.chain_id, params.account_number, deterministic=True)
    tx.complete()
    tx_bytes = tx.tx.SerializeToString()
    return SignedTx(tx_bytes=tx_bytes, tx_hash=tx_hash(tx_bytes), sequence=params.sequence)
