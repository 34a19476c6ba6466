"""The chain port over cosmpy's REST (LCD) or gRPC clients, as `LedgerClient` sets them up.

It uses the raw query and tx services rather than `LedgerClient.broadcast_tx` and
friends, because those take cosmpy `Transaction` objects and hide the memo and the error
code, and the anchor works with stored, already signed bytes.

cosmpy's REST client sends its requests without a timeout, so a node that accepts the
connection and never answers would hold the anchor's worker thread (and its lock) for
ever: the adapter mounts a transport with a timeout on that client's session. A timed
out broadcast may still have reached the node; the anchor looks the transaction up and
resends the same bytes, so that is safe.
"""

from __future__ import annotations

from typing import Any

import grpc
import requests
from cosmpy.aerial.client import LedgerClient
from cosmpy.aerial.config import NetworkConfig
from cosmpy.protos.cosmos.auth.v1beta1.auth_pb2 import BaseAccount
from cosmpy.protos.cosmos.auth.v1beta1.query_pb2 import QueryAccountRequest, QueryParamsRequest
from cosmpy.protos.cosmos.tx.v1beta1.service_pb2 import (
    BroadcastMode,
    BroadcastTxRequest,
    GetTxRequest,
    SimulateRequest,
)
from cosmpy.tx.rest_client import TxRestClient
from google.protobuf.json_format import ParseError

from attesta_chain_writer.cosmos.chain_port import (
    CODE_TX_IN_MEMPOOL,
    CODE_WRONG_SEQUENCE,
    AccountInfo,
    ChainRejected,
    ChainTx,
    ChainUnavailable,
    SequenceMismatch,
)

# cosmpy's REST client turns every non-200 answer into a RuntimeError carrying the body;
# a 200 answer that is not the expected JSON (a proxy's page, say) fails to parse.
_TRANSPORT_ERRORS = (
    requests.RequestException,
    grpc.RpcError,
    RuntimeError,
    OSError,
    ParseError,
    ValueError,
    KeyError,
)
DEFAULT_TIMEOUT_S = 10.0


class _TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Gives every request of the session a (connect, read) timeout unless it has one."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout_s
        return super().send(request, **kwargs)


class CosmpyChain:
    def __init__(
        self, url: str, chain_id: str, denom: str, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.chain_id = chain_id
        config = NetworkConfig(
            chain_id=chain_id,
            url=url,
            fee_minimum_gas_price=0,
            fee_denomination=denom,
            staking_denomination=denom,
        )
        self._client = LedgerClient(config)
        if isinstance(self._client.txs, TxRestClient):
            # One session serves every REST query and the broadcast.
            adapter = _TimeoutAdapter(timeout_s)
            session = self._client.txs.rest_client._session
            session.mount("http://", adapter)
            session.mount("https://", adapter)

    def account(self, address: str) -> AccountInfo:
        try:
            response = self._client.auth.Account(QueryAccountRequest(address=address))
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(f"account query failed: {exc}") from exc
        account = BaseAccount()
        if not response.account.Unpack(account):
            raise ChainUnavailable(f"account {address} is not a base account")
        return AccountInfo(number=account.account_number, sequence=account.sequence)

    def max_memo_characters(self) -> int:
        try:
            return int(self._client.auth.Params(QueryParamsRequest()).params.max_memo_characters)
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(f"auth params query failed: {exc}") from exc

    def simulate(self, tx_bytes: bytes) -> int:
        try:
            response = self._client.txs.Simulate(SimulateRequest(tx_bytes=tx_bytes))
        except _TRANSPORT_ERRORS as exc:
            if "sequence mismatch" in str(exc):
                raise SequenceMismatch(str(exc)) from exc
            raise ChainUnavailable(f"simulation failed: {exc}") from exc
        return int(response.gas_info.gas_used)

    def broadcast(self, tx_bytes: bytes) -> str:
        request = BroadcastTxRequest(tx_bytes=tx_bytes, mode=BroadcastMode.BROADCAST_MODE_SYNC)
        try:
            result = self._client.txs.BroadcastTx(request).tx_response
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(f"broadcast failed: {exc}") from exc
        check_broadcast(result.code, result.raw_log)
        return str(result.txhash)

    def get_tx(self, tx_hash: str) -> ChainTx | None:
        try:
            response = self._client.txs.GetTx(GetTxRequest(hash=tx_hash))
        except _TRANSPORT_ERRORS as exc:
            if "not found" in str(exc) or getattr(exc, "code", None) == grpc.StatusCode.NOT_FOUND:
                return None
            raise ChainUnavailable(f"tx query failed: {exc}") from exc
        result = response.tx_response
        return ChainTx(
            tx_hash=str(result.txhash).upper(),
            height=int(result.height),
            code=int(result.code),
            memo=response.tx.body.memo,
            log=str(result.raw_log),
        )


def check_broadcast(code: int, log: str) -> None:
    """Map a CheckTx answer to the port's errors; a copy already in the mempool is fine."""
    if code in (0, CODE_TX_IN_MEMPOOL):
        return
    if code == CODE_WRONG_SEQUENCE:
        raise SequenceMismatch(log)
    raise ChainRejected(code, log)
