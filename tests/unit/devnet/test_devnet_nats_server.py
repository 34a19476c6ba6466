"""The local nats-server runs on one Go thread unless told otherwise
(attesta_devnet.nats_server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from attesta_devnet.nats_server import NatsServer


def _environ(server: NatsServer) -> dict[str, str]:
    assert server._process is not None
    raw = Path(f"/proc/{server._process.pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


@pytest.mark.parametrize(
    ("gomaxprocs", "outside", "expected"),
    [(1, None, "1"), (None, None, None), (1, "2", "2")],
)
def test_the_server_gets_its_go_threads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gomaxprocs: int | None,
    outside: str | None,
    expected: str | None,
) -> None:
    if outside is None:
        monkeypatch.delenv("GOMAXPROCS", raising=False)
    else:
        monkeypatch.setenv("GOMAXPROCS", outside)  # the operator's own choice wins
    server = NatsServer(tmp_path / "nats", gomaxprocs=gomaxprocs)
    server.start()
    try:
        assert _environ(server).get("GOMAXPROCS") == expected
        assert server.running
    finally:
        server.stop()


def test_one_go_thread_is_the_default(tmp_path: Path) -> None:
    assert NatsServer(tmp_path).gomaxprocs == 1
