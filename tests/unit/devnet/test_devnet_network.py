"""The devnet's service plan: canaries on when asked, with executor-0 as canary executor."""

from __future__ import annotations

import json
from pathlib import Path

from attesta_common.canary import load_canary_key
from attesta_devnet.network import Network, NetworkConfig


def _envs(tmp_path: Path, canary_rate: float) -> tuple[Network, dict[str, dict[str, str]]]:
    network = Network(NetworkConfig(data_dir=tmp_path, canary_rate=canary_rate))
    network._prepare_identity()  # keys and genesis only: no NATS or Postgres needed
    return network, {s.name: s.env for s in network._plan()}


def test_canaries_are_off_by_default(tmp_path: Path) -> None:
    _, envs = _envs(tmp_path, 0.0)
    assert not any("ATTESTA_CANARY_KEY_PATH" in env for env in envs.values())


def test_with_canaries_the_gateway_plants_and_only_executor_0_spoils(tmp_path: Path) -> None:
    network, envs = _envs(tmp_path, 0.05)
    assert network.keys is not None
    gateway, canary_executor = envs["api-gateway"], envs["executor-0"]
    assert json.loads(gateway["ATTESTA_CANARY_EXECUTORS"]) == [network.keys.executors[0].address]
    assert gateway["ATTESTA_CANARY_RATE"] == "0.05"
    assert gateway["ATTESTA_CANARY_KEY_PATH"] == canary_executor["ATTESTA_CANARY_KEY_PATH"]
    assert len(load_canary_key(Path(gateway["ATTESTA_CANARY_KEY_PATH"]))) == 32
    assert "ATTESTA_CANARY_KEY_PATH" not in envs["executor-1"]
    assert not any("ATTESTA_CANARY_KEY_PATH" in envs[f"validator-{i}"] for i in range(2))
