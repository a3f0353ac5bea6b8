"""What the CI exporters learn from mlgate.sources: each job's `dvc pull` targets and variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import DataError
from mlgate.pipeline import STAGE_NAMES
from mlgate.sources import ci_data_steps, ci_variables, dvc_packages, dvc_pull_targets, stage_inputs


def _project(root: Path, remote: str = "s3://team-bucket/dvc") -> None:
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text(f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n")
    (root / "data").mkdir()
    for name in ("train", "test"):
        (root / "data" / f"{name}.csv.dvc").write_text(f"outs:\n- md5: {name:0<32}\n  hash: md5\n  path: {name}.csv\n")


def test_each_stage_pulls_exactly_the_tables_it_reads(tmp_path: Path) -> None:
    _project(tmp_path)
    config = config_from_dict({"data": {"train": "data/train.csv", "test": "data/test.csv"}}, tmp_path)
    targets = {stage: dvc_pull_targets(config, stage) for stage in STAGE_NAMES}
    both = ["data/test.csv.dvc", "data/train.csv.dvc"]
    assert targets == {"validate": both, "tune": ["data/train.csv.dvc"], "train": ["data/train.csv.dvc"],
                       "test": both, "evaluate": ["data/test.csv.dvc"], "compare": ["data/test.csv.dvc"],
                       "register": [], "monitor": []}


def test_one_split_file_is_every_data_stage_input(tmp_path: Path) -> None:
    _project(tmp_path)
    config = config_from_dict({"data": {"path": "data/train.csv"}}, tmp_path)
    assert dvc_pull_targets(config, "evaluate") == ["data/train.csv.dvc"]
    assert stage_inputs(config, "evaluate") == [tmp_path / "data" / "train.csv"]


def test_variables_name_the_remote_and_the_buckets_credentials(tmp_path: Path) -> None:
    _project(tmp_path)
    config = config_from_dict({"data": {"train": "data/train.csv", "test": "gs://b/test.parquet"},
                               "monitor": {"current": "s3://b/batches/"}}, tmp_path)
    found = ci_variables(config)
    assert found["dvc remote 'store' (s3)"][:2] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert found["gs"] == ["GOOGLE_APPLICATION_CREDENTIALS"]
    assert "AWS_ENDPOINT_URL" in found["s3"]  # from monitor.current
    assert ci_variables(config, ["train"]) == {"dvc remote 'store' (s3)": found["dvc remote 'store' (s3)"]}


def test_a_local_folder_remote_needs_no_variables_and_plain_files_nothing(tmp_path: Path) -> None:
    _project(tmp_path, remote="/mnt/dvc-store")
    config = config_from_dict({"data": {"train": "data/train.csv"}}, tmp_path)
    assert ci_variables(config) == {"dvc remote 'store' (local)": []}
    plain = config_from_dict({"data": {"train": "elsewhere/train.csv"}}, tmp_path)
    assert dvc_pull_targets(plain, "train") == [] and ci_variables(plain) == {}


def test_an_unknown_stage_is_an_error(tmp_path: Path) -> None:
    config = config_from_dict({"data": {"train": "x.csv"}}, tmp_path)
    with pytest.raises(DataError, match="'deploy' is not a stage"):
        dvc_pull_targets(config, "deploy")


def test_the_job_lines_and_the_packages_to_pull_with(tmp_path: Path) -> None:
    _project(tmp_path)
    config = config_from_dict({"data": {"train": "data/train.csv", "test": "data/test.csv"}}, tmp_path)
    assert ci_data_steps(config, "train") == ["dvc pull data/train.csv.dvc"]
    assert ci_data_steps(config, "register") == []
    assert dvc_packages(config) == ["dvc[s3]"]
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = here\n['remote \"here\"']\n    url = ../store\n")
    assert dvc_packages(config) == ["dvc"]
    assert dvc_packages(config_from_dict({"data": {"train": "s3://b/t.parquet"}}, tmp_path)) == []


def test_the_ci_reads_the_committed_remote_not_a_local_override(tmp_path: Path) -> None:
    _project(tmp_path)  # committed: an S3 remote
    (tmp_path / ".dvc" / "config.local").write_text("['remote \"store\"']\n    url = /mnt/mirror\n")
    config = config_from_dict({"data": {"train": "data/train.csv"}}, tmp_path)
    assert dvc_packages(config) == ["dvc[s3]"]
    assert list(ci_variables(config)) == ["dvc remote 'store' (s3)"]
