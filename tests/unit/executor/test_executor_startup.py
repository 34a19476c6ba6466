"""Settings, identity checks and the app factory: clear refusals before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_executor.main import create_executor
from attesta_executor.service import Executor, StartupError, served_model
from attesta_executor.settings import ExecutorSettings


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")
    monkeypatch.setenv("ATTESTA_CAPACITY", "2")
    monkeypatch.setenv("ATTESTA_TORCH_THREADS", "1")
    monkeypatch.setenv("ATTESTA_MODEL_CACHE_DIR", "/models")
    monkeypatch.setenv("ATTESTA_HEARTBEAT_INTERVAL_S", "0.5")
    settings = ExecutorSettings()
    assert settings.nats_url == "nats://nats:4222"
    assert (settings.capacity, settings.torch_threads) == (2, 1)
    assert settings.model_cache_dir == Path("/models")
    assert settings.heartbeat_interval_s == 0.5
    assert settings.model == "SmolLM2-135M-Instruct"
    assert (settings.progress_interval_s, settings.torch_threads) == (5.0, 1)


def test_only_an_executor_key_serving_a_genesis_model_may_start(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    assert served_model(genesis, devnet_keys.executors[0], "SmolLM2-135M-Instruct").top_k == 3
    with pytest.raises(StartupError, match="executor role"):
        served_model(genesis, devnet_keys.validators[0], "SmolLM2-135M-Instruct")
    with pytest.raises(StartupError, match="not in genesis"):
        served_model(genesis, devnet_keys.executors[0], "gpt-9")
    executor = Executor(ExecutorSettings(), genesis, devnet_keys.executors[1])
    assert executor.address == devnet_keys.executors[1].address and not executor.ready


def write_identity(tmp_path: Path, genesis: Genesis, key: SigningKey) -> ExecutorSettings:
    genesis.save(tmp_path / "genesis.json")
    key.save(tmp_path / "executor.key")
    return ExecutorSettings(
        genesis_path=tmp_path / "genesis.json", key_path=tmp_path / "executor.key"
    )


def test_the_factory_exits_with_the_reason(
    tmp_path: Path, devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    settings = write_identity(tmp_path, genesis, devnet_keys.executors[0])
    assert create_executor(settings).address == devnet_keys.executors[0].address

    gateway_dir = tmp_path / "gateway"
    gateway_dir.mkdir()
    with pytest.raises(SystemExit, match="executor role"):
        create_executor(write_identity(gateway_dir, genesis, devnet_keys.gateway))
    with pytest.raises(SystemExit, match="not in genesis"):
        create_executor(settings.model_copy(update={"model": "gpt-9"}))
    with pytest.raises(SystemExit, match="cannot load key"):
        create_executor(settings.model_copy(update={"key_path": tmp_path / "missing.key"}))
    with pytest.raises(SystemExit, match="cannot load genesis"):
        create_executor(settings.model_copy(update={"genesis_path": tmp_path / "nope.json"}))
