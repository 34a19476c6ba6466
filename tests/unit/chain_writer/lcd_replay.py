"""A local HTTP server replaying recorded Cosmos SDK v0.50 LCD answers (`lcd_exchange/`)
for test_cosmos_lcd_exchange.py.

The fixtures are the node's JSON with `$name` placeholders for what depends on the
transaction the test signed (hash, memo, signature, ...); the server fills them from the
broadcast bytes, and records every request so the tests can decode what was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template
from typing import Any

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, TxBody, TxRaw

FIXTURES = Path(__file__).parent / "lcd_exchange"
# The height the recorded node includes transactions at.
INCLUDED_HEIGHT = 42

_ROUTES = [
    ("GET", re.compile(r"/cosmos/auth/v1beta1/accounts/(?P<address>[a-z0-9]+)"), "account"),
    ("GET", re.compile(r"/cosmos/auth/v1beta1/params"), "params"),
    ("POST", re.compile(r"/cosmos/tx/v1beta1/simulate"), "simulate"),
    ("POST", re.compile(r"/cosmos/tx/v1beta1/txs"), "broadcast"),
    ("GET", re.compile(r"/cosmos/tx/v1beta1/txs/(?P<txhash>[0-9A-Fa-f]{64})"), "get_tx"),
]


@dataclass(frozen=True)
class Reply:
    fixture: str
    status: int = 200
    delay_s: float = 0.0


_DEFAULTS = {
    "account": Reply("account_seq6.json"),
    "params": Reply("auth_params.json"),
    "simulate": Reply("simulate_ok.json"),
    "broadcast": Reply("broadcast_code0.json"),
    # Found once the node accepted it (see `LcdReplay._answer`), else a 404.
    "get_tx": Reply("get_tx_found.json"),
}
NOT_FOUND = Reply("get_tx_not_found.json", 404)
_UNROUTED = Reply("bad_gateway.html", 502)


@dataclass(frozen=True)
class Request:
    route: str
    method: str
    path: str
    body: dict[str, Any] | None
    status: int


@dataclass
class LcdReplay:
    """The node's side of the exchange: scripted replies per route, then the defaults."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    # Hashes the node accepted into its mempool (CheckTx code 0 or 19).
    accepted: set[str] = field(default_factory=set)
    # Every transaction broadcast, by hash, to describe it when it is looked up.
    txs: dict[str, bytes] = field(default_factory=dict)
    _script: dict[str, deque[Reply]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def then(self, route: str, *replies: Reply) -> None:
        self._script.setdefault(route, deque()).extend(replies)

    def sent(self, route: str) -> list[Request]:
        return [r for r in self.requests if r.route == route]

    def broadcast_txs(self) -> list[bytes]:
        return [_tx_bytes(r.body) for r in self.sent("broadcast")]

    def answer(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[Reply, bytes]:
        with self._lock:
            route, params = "unrouted", {}
            for route_method, pattern, name in _ROUTES:
                match = pattern.fullmatch(path.split("?", 1)[0])
                if route_method == method and match:
                    route, params = name, match.groupdict()
                    break
            queue = self._script.get(route)
            reply = queue.popleft() if queue else _DEFAULTS.get(route, _UNROUTED)
            values: dict[str, str] = {}
            if route == "broadcast":
                tx = _tx_bytes(body)
                values = _tx_values(tx)
                self.txs[values["txhash"]] = tx
                if reply.status == 200 and _fixture_code(reply) in (0, 19):
                    self.accepted.add(values["txhash"])
            elif route == "get_tx":
                txhash = params["txhash"].upper()
                if reply.fixture == "get_tx_found.json" and txhash not in self.accepted:
                    reply = NOT_FOUND
                values = _tx_values(self.txs[txhash]) if txhash in self.txs else {}
                values.setdefault("txhash", txhash)
            self.requests.append(Request(route, method, path, body, reply.status))
        text = (FIXTURES / reply.fixture).read_text()
        values["height"] = str(INCLUDED_HEIGHT)
        return reply, Template(text).substitute(values).encode()


def _fixture_code(reply: Reply) -> int:
    document = json.loads((FIXTURES / reply.fixture).read_text())
    return int(document["tx_response"]["code"])


def _tx_bytes(body: dict[str, Any] | None) -> bytes:
    # cosmpy posts protobuf JSON names (txBytes); the gateway takes either spelling.
    assert body is not None
    return base64.b64decode(body.get("txBytes") or body["tx_bytes"])


def _tx_values(tx: bytes) -> dict[str, str]:
    """What the node's JSON says about the transaction `tx`."""
    raw = TxRaw.FromString(tx)
    body, auth = TxBody.FromString(raw.body_bytes), AuthInfo.FromString(raw.auth_info_bytes)
    signer = auth.signer_infos[0]
    return {
        "txhash": hashlib.sha256(tx).hexdigest().upper(),
        "memo": body.memo,
        "address": MsgSend.FromString(body.messages[0].value).from_address,
        "pub_key": base64.b64encode(PubKey.FromString(signer.public_key.value).key).decode(),
        "sequence": str(signer.sequence),
        "fee_amount": auth.fee.amount[0].amount if auth.fee.amount else "0",
        "gas_limit": str(auth.fee.gas_limit),
        "signature": base64.b64encode(raw.signatures[0]).decode(),
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._reply(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self._reply(json.loads(self.rfile.read(length)))

    def _reply(self, body: dict[str, Any] | None) -> None:
        reply, payload = self.server.replay.answer(self.command, self.path, body)
        if reply.delay_s:
            # The node is slow: the client may have given up and gone meanwhile.
            time.sleep(reply.delay_s)
        try:
            self.send_response(reply.status)
            kind = "text/html" if reply.fixture.endswith(".html") else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replay: LcdReplay) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replay = replay


@contextmanager
def serve_lcd() -> Iterator[LcdReplay]:
    """The replay server on a free local port, for the duration of the block."""
    replay = LcdReplay()
    server = _Server(replay)
    replay.url = f"rest+http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
