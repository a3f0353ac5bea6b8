"""The pipeline with DVC-tracked data: checks before anything runs, keys without the data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import DataError
from mlgate.monitor.stage import input_marker
from mlgate.pipeline import Pipeline

TABLE = b"x,target\n1,0\n2,1\n"


def _tracked(root: Path, remote: bool = True) -> Path:
    (root / ".dvc").mkdir()
    config = "[core]\n    remote = s\n['remote \"s\"']\n    url = /mnt/s\n"
    (root / ".dvc" / "config").write_text(config if remote else "")
    md5 = hashlib.md5(TABLE, usedforsecurity=False).hexdigest()
    (root / "train.csv.dvc").write_text(f"outs:\n- md5: {md5}\n  hash: md5\n  path: train.csv\n")
    (root / "train.csv").write_bytes(TABLE)
    return root / "train.csv"


def test_keys_are_the_same_with_and_without_the_data(tmp_path: Path) -> None:
    train = _tracked(tmp_path)
    config = config_from_dict({"data": {"train": "train.csv"}}, tmp_path)
    present = Pipeline(config)._fingerprints(("train",))
    train.unlink()
    Pipeline(config).check_inputs()  # absent but pullable: no error before anything runs
    assert Pipeline(config)._fingerprints(("train",)) == present


def test_absent_data_without_a_remote_is_an_error_only_for_stages_that_read_it(tmp_path: Path) -> None:
    _tracked(tmp_path, remote=False).unlink()
    config = config_from_dict({"data": {"train": "train.csv"}, "monitor": {"current": "train.csv"}}, tmp_path)
    with pytest.raises(DataError, match=r"data.train in the config is .*train.csv.*no default remote"):
        Pipeline(config).check_inputs()
    Pipeline(config).check_inputs(only="register")  # reads no data: nothing to pull
    Pipeline(config).check_inputs(only="monitor")


def test_monitor_marker_of_absent_dvc_data_is_its_recorded_hash(tmp_path: Path) -> None:
    _tracked(tmp_path).unlink()
    config = config_from_dict({"data": {"train": "train.csv"}, "monitor": {"current": "train.csv"}}, tmp_path)
    marker = input_marker(config)
    assert marker == {"monitor": {"current": [[str(tmp_path / "train.csv"),
                                               hashlib.md5(TABLE, usedforsecurity=False).hexdigest()]]}}
