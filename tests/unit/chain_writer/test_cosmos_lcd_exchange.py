"""The production adapter, `CosmpyChain` over cosmpy's REST (LCD) client, against a local
HTTP server replaying recorded Cosmos SDK v0.50 LCD answers (`lcd_exchange/`): success,
sequence mismatch, a broadcast that times out, rejections and a misbehaving proxy.

The replay server is `lcd_replay.py`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator

import asyncpg
import pytest
from attesta_chain_writer.anchor_port import SealedBatch
from attesta_chain_writer.cosmos.anchor import CosmosAnchor, RetryPolicy
from attesta_chain_writer.cosmos.chain_port import (
    ChainRejected,
    ChainUnavailable,
    SequenceMismatch,
)
from attesta_chain_writer.cosmos.cosmpy_client import CosmpyChain
from attesta_chain_writer.cosmos.memo import AnchorMemo
from attesta_chain_writer.cosmos.signer import AnchorSigner, FeePolicy
from attesta_chain_writer.cosmos.store import load_row
from attesta_chain_writer.cosmos.tx import TxParams, build_anchor_tx
from attesta_common.keys import SigningKey
from cosmpy.crypto.keypairs import PublicKey
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxBody, TxRaw
from lcd_replay import INCLUDED_HEIGHT, NOT_FOUND, LcdReplay, Reply, serve_lcd

CHAIN_ID = "attesta-anchor"
# The account the fixtures were recorded for (account number 12, sequence 6 then 7).
KEY = SigningKey.from_hex("11" * 32)
ADDRESS = "attesta1l3e9pgs3mmwuwrh95fecme0s0qtn2880dlncvc"
ACCOUNT_NUMBER = 12
SIMULATED_GAS = 61532
BATCH = SealedBatch(batch_seq=1, merkle_root="cd" * 32, leaf_count=5)
MEMO = AnchorMemo(3, 1, BATCH.merkle_root, 5).encode()
FAST = RetryPolicy(inclusion_timeout_s=2.0, poll_interval_s=0.01, retries=3, backoff_s=0.0)


@pytest.fixture
def lcd() -> Iterator[LcdReplay]:
    with serve_lcd() as replay:
        yield replay


def _chain(lcd: LcdReplay, timeout_s: float = 5.0) -> CosmpyChain:
    return CosmpyChain(lcd.url, CHAIN_ID, "stake", timeout_s=timeout_s)


def _anchor(pool: asyncpg.Pool, chain: CosmpyChain) -> CosmosAnchor:
    signer = AnchorSigner(chain, KEY.cosmpy_key, "attesta", FeePolicy("stake", 100, 0))
    return CosmosAnchor(pool, chain, signer, lambda: 3, FAST)


def _decode(tx: bytes) -> tuple[TxBody, AuthInfo, MsgSend]:
    raw = TxRaw.FromString(tx)
    body = TxBody.FromString(raw.body_bytes)
    assert [m.type_url for m in body.messages] == ["/cosmos.bank.v1beta1.MsgSend"]
    return (
        body,
        AuthInfo.FromString(raw.auth_info_bytes),
        MsgSend.FromString(body.messages[0].value),
    )


def _assert_anchor_tx(tx: bytes, sequence: int) -> None:
    """A signed MsgSend of 1stake to self, carrying the batch's memo, at `sequence`."""
    body, auth, send = _decode(tx)
    assert send.from_address == send.to_address == ADDRESS
    assert [(c.denom, c.amount) for c in send.amount] == [("stake", "1")]
    assert body.memo == MEMO
    assert auth.signer_infos[0].sequence == sequence
    assert [(c.denom, c.amount) for c in auth.fee.amount] == [("stake", "100")]
    assert auth.fee.gas_limit == int(SIMULATED_GAS * 1.3) + 1
    raw = TxRaw.FromString(tx)
    doc = SignDoc(
        body_bytes=raw.body_bytes,
        auth_info_bytes=raw.auth_info_bytes,
        chain_id=CHAIN_ID,
        account_number=ACCOUNT_NUMBER,
    )
    assert KEY.cosmpy_key.public_key.verify(doc.SerializeToString(), raw.signatures[0])
    key = PubKey.FromString(auth.signer_infos[0].public_key.value).key
    assert PublicKey(key).public_key_bytes == KEY.cosmpy_key.public_key.public_key_bytes


async def test_anchors_end_to_end_over_the_lcd(pool: asyncpg.Pool, lcd: LcdReplay) -> None:
    lcd.then("get_tx", NOT_FOUND)  # not in a block at the first look
    receipt = await _anchor(pool, _chain(lcd)).anchor(BATCH)

    [tx] = lcd.broadcast_txs()
    _assert_anchor_tx(tx, sequence=6)
    txhash = hashlib.sha256(tx).hexdigest().upper()
    assert (receipt.kind, receipt.ref, receipt.height) == ("cosmos", txhash, INCLUDED_HEIGHT)
    assert lcd.sent("broadcast")[0].body == {
        "txBytes": base64.b64encode(tx).decode(),
        "mode": "BROADCAST_MODE_SYNC",
    }
    assert [(r.route, r.status) for r in lcd.requests] == [
        ("params", 200),
        ("account", 200),
        ("simulate", 200),
        ("broadcast", 200),
        ("get_tx", 404),
        ("get_tx", 200),
    ]
    assert lcd.sent("account")[0].path == f"/cosmos/auth/v1beta1/accounts/{ADDRESS}"
    row = await load_row(pool, 1)
    assert row is not None and (row.state, row.height, row.tx.tx_bytes) == (
        "included",
        INCLUDED_HEIGHT,
        tx,
    )


async def test_sequence_mismatch_rereads_the_account(pool: asyncpg.Pool, lcd: LcdReplay) -> None:
    # Someone else used sequence 6: CheckTx answers code 32 and the account now says 7.
    lcd.then("broadcast", Reply("broadcast_code32.json"))
    lcd.then("account", Reply("account_seq6.json"), Reply("account_seq7.json"))
    receipt = await _anchor(pool, _chain(lcd)).anchor(BATCH)

    stale, fresh = lcd.broadcast_txs()
    _assert_anchor_tx(stale, sequence=6)
    _assert_anchor_tx(fresh, sequence=7)
    assert receipt.ref == hashlib.sha256(fresh).hexdigest().upper()
    assert len(lcd.sent("account")) == 2
    # The refused transaction was looked up (not found) before being replaced.
    stale_hash = hashlib.sha256(stale).hexdigest().upper()
    assert [r.status for r in lcd.sent("get_tx") if r.path.endswith(stale_hash)] == [404]
    row = await load_row(pool, 1)
    assert row is not None and (row.tx.tx_bytes, row.state) == (fresh, "included")


async def test_broadcast_timeout_resends_the_same_bytes(pool: asyncpg.Pool, lcd: LcdReplay) -> None:
    # The node takes the transaction but answers after the client gave up; the anchor
    # looks it up (not in a block yet) and resends it: "already in the mempool".
    lcd.then("broadcast", Reply("broadcast_code0.json", delay_s=1.5))
    lcd.then("broadcast", Reply("broadcast_code19.json"))
    lcd.then("get_tx", NOT_FOUND)
    started = time.monotonic()
    receipt = await _anchor(pool, _chain(lcd, timeout_s=0.3)).anchor(BATCH)

    assert time.monotonic() - started < 1.5
    first, second = lcd.broadcast_txs()
    assert first == second
    _assert_anchor_tx(first, sequence=6)
    assert receipt.ref == hashlib.sha256(first).hexdigest().upper()
    assert receipt.height == INCLUDED_HEIGHT
    assert len(lcd.sent("account")) == 1
    assert [r.route for r in lcd.requests[3:]] == ["broadcast", "get_tx", "broadcast", "get_tx"]


async def test_insufficient_fee_is_a_rejection(pool: asyncpg.Pool, lcd: LcdReplay) -> None:
    lcd.then("broadcast", Reply("broadcast_code13.json"))
    anchor = _anchor(pool, _chain(lcd))
    with pytest.raises(ChainRejected) as rejected:
        await anchor.anchor(BATCH)

    assert rejected.value.code == 13
    assert "insufficient fee" in rejected.value.log
    [tx] = lcd.broadcast_txs()  # not retried: resending cannot help
    _assert_anchor_tx(tx, sequence=6)
    assert lcd.sent("get_tx") == []
    row = await load_row(pool, 1)
    assert row is not None and row.state == "rejected"
    assert await anchor.lookup(1) is None


def test_already_in_mempool_counts_as_submitted(lcd: LcdReplay) -> None:
    lcd.then("broadcast", Reply("broadcast_code19.json"))
    params = TxParams(CHAIN_ID, ACCOUNT_NUMBER, 6, "stake", 100, 200_000)
    signed = build_anchor_tx(KEY.cosmpy_key, "attesta", AnchorMemo(3, 1, "cd" * 32, 5), params)
    assert _chain(lcd).broadcast(signed.tx_bytes) == signed.tx_hash
    assert lcd.broadcast_txs() == [signed.tx_bytes]


def test_simulation_sequence_mismatch(lcd: LcdReplay) -> None:
    # v0.50 answers a failed simulation with HTTP 500, gRPC code 2 (Unknown).
    lcd.then("simulate", Reply("simulate_sequence_mismatch.json", 500))
    with pytest.raises(SequenceMismatch, match="expected 7, got 6"):
        _chain(lcd).simulate(b"\x0a\x00")


def test_unknown_transaction_is_none(lcd: LcdReplay) -> None:
    assert _chain(lcd).get_tx("AB" * 32) is None
    assert [(r.route, r.status) for r in lcd.requests] == [("get_tx", 404)]


@pytest.mark.parametrize(
    "reply",
    [
        Reply("bad_gateway.html", 502),  # a proxy in front of a node that is down
        Reply("bad_gateway.html", 200),  # a proxy answering 200 with its own page
        Reply("account_seq6.json", delay_s=1.0),  # no answer within the timeout
    ],
    ids=["502", "200-html", "timeout"],
)
def test_unavailable_node(lcd: LcdReplay, reply: Reply) -> None:
    lcd.then("account", reply)
    lcd.then("params", reply)
    chain = _chain(lcd, timeout_s=0.3)
    with pytest.raises(ChainUnavailable):
        chain.account(ADDRESS)
    with pytest.raises(ChainUnavailable):
        chain.max_memo_characters()
    # The next answer is a good one again.
    assert chain.account(ADDRESS).sequence == 6
    assert chain.max_memo_characters() == 256
