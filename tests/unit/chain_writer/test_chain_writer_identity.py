"""The process refuses to start with a key that may not sign blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from attesta_chain_writer.main import load_identity
from attesta_chain_writer.settings import ChainWriterSettings
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys


@pytest.fixture
def key_paths(tmp_path: Path, devnet_keys: DevnetKeys, genesis: Genesis) -> dict[str, Path]:
    genesis.save(tmp_path / "genesis.json")
    return devnet_keys.save(tmp_path / "keys")


def _settings(tmp_path: Path, key_path: Path) -> ChainWriterSettings:
    return ChainWriterSettings(genesis_path=tmp_path / "genesis.json", key_path=key_path)


def test_the_chain_writer_key_is_accepted(
    tmp_path: Path, key_paths: dict[str, Path], devnet_keys: DevnetKeys
) -> None:
    genesis, key = load_identity(_settings(tmp_path, key_paths["chain-writer"]))
    assert key.address == devnet_keys.chain_writer.address
    assert genesis.chain_id == "attesta-local"


def test_a_key_without_the_role_is_refused(tmp_path: Path, key_paths: dict[str, Path]) -> None:
    with pytest.raises(SystemExit, match="does not hold the chain_writer role"):
        load_identity(_settings(tmp_path, key_paths["gateway"]))


def test_missing_files_are_refused(tmp_path: Path, key_paths: dict[str, Path]) -> None:
    with pytest.raises(SystemExit, match="cannot load key"):
        load_identity(_settings(tmp_path, tmp_path / "nope.key"))
    with pytest.raises(SystemExit, match="cannot load genesis"):
        load_identity(
            ChainWriterSettings(
                genesis_path=tmp_path / "nope.json", key_path=key_paths["chain-writer"]
            )
        )
