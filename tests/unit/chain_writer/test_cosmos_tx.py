"""The anchor memo and the anchoring transaction, built and signed offline."""

from __future__ import annotations

import json

import pytest
from attesta_chain_writer.cosmos.memo import MEMO_LENGTH, AnchorMemo, MemoError
from attesta_chain_writer.cosmos.tx import TxParams, build_anchor_tx, signer_address
from attesta_common.keys import SigningKey
from cosmpy.crypto.keypairs import PublicKey
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxBody, TxRaw
from cosmpy.protos.cosmwasm.wasm.v1.tx_pb2 import MsgExecuteContract

MEMO = AnchorMemo(epoch=7, batch_seq=42, merkle_root="ab" * 32, leaf_count=1000)


def test_memo_round_trips_within_the_default_memo_limit() -> None:
    text = MEMO.encode()
    assert text.startswith("AT1:") and len(text) == MEMO_LENGTH <= 256
    assert AnchorMemo.decode(text) == MEMO


@pytest.mark.parametrize("text", ["hello", "AT1:!!", "AT1:" + "A" * 66, "AT1:"])
def test_foreign_or_broken_memos_are_refused(text: str) -> None:
    with pytest.raises(MemoError):
        AnchorMemo.decode(text)


def test_a_short_root_cannot_be_encoded() -> None:
    with pytest.raises(MemoError):
        AnchorMemo(1, 1, "ab", 1).encode()


def _decode(tx_bytes: bytes) -> tuple[TxRaw, TxBody, AuthInfo]:
    raw = TxRaw.FromString(tx_bytes)
    return raw, TxBody.FromString(raw.body_bytes), AuthInfo.FromString(raw.auth_info_bytes)


def test_self_transfer_is_signed_over_its_sign_doc() -> None:
    key = SigningKey.generate()
    params = TxParams(
        "anchor-1", account_number=3, sequence=9, denom="stake", fee_amount=500, gas_limit=90_000
    )
    signed = build_anchor_tx(key.cosmpy_key, "attesta", MEMO, params)

    raw, body, auth = _decode(signed.tx_bytes)
    assert AnchorMemo.decode(body.memo) == MEMO
    send = MsgSend()
    assert body.messages[0].Unpack(send)
    assert send.from_address == send.to_address == key.address
    assert auth.signer_infos[0].sequence == 9
    assert auth.fee.gas_limit == 90_000 and auth.fee.amount[0].amount == "500"
    public_key = PubKey.FromString(auth.signer_infos[0].public_key.value).key
    assert public_key.hex() == key.public_key_hex
    doc = SignDoc(
        body_bytes=raw.body_bytes,
        auth_info_bytes=raw.auth_info_bytes,
        chain_id="anchor-1",
        account_number=3,
    )
    assert PublicKey(public_key).verify(doc.SerializeToString(), raw.signatures[0])
    other_chain = SignDoc(
        body_bytes=raw.body_bytes,
        auth_info_bytes=raw.auth_info_bytes,
        chain_id="x",
        account_number=3,
    )
    assert not PublicKey(public_key).verify(other_chain.SerializeToString(), raw.signatures[0])
    # Deterministic signatures: the same inputs give the same transaction hash.
    assert build_anchor_tx(key.cosmpy_key, "attesta", MEMO, params) == signed


def test_contract_call_carries_the_anchor_and_the_memo() -> None:
    key = SigningKey.generate()
    contract = signer_address(SigningKey.generate().cosmpy_key, "attesta")
    params = TxParams("anchor-1", 0, 0, "stake", 0, 200_000, contract=contract)
    _, body, _ = _decode(build_anchor_tx(key.cosmpy_key, "attesta", MEMO, params).tx_bytes)
    call = MsgExecuteContract()
    assert body.messages[0].Unpack(call)
    assert call.contract == contract
    assert json.loads(call.msg)["anchor"]["merkle_root"] == MEMO.merkle_root
    assert AnchorMemo.decode(body.memo) == MEMO
