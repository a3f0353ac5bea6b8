"""Bad input through the console script: exit 2, one clear paragraph, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def _assert_user_error(out: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert out.stderr.startswith("Error: ")
    for fragment in fragments:
        assert fragment in out.stderr, out.stderr


def test_validate_csv_without_target_column(mlgate_bin: list[str], tmp_path: Path) -> None:
    (tmp_path / "new.csv").write_text("age,income\n31,1000\n45,2000\n")
    out = _run([*mlgate_bin, "validate", "--data", "new.csv", "--target", "churned"], tmp_path)
    _assert_user_error(out, "new.csv", "'churned'")


def test_bad_input_leaves_no_empty_report_folder_and_keeps_earlier_reports(mlgate_bin: list[str],
                                                                           tmp_path: Path) -> None:
    (tmp_path / "new.csv").write_text("age,income\n31,1000\n45,2000\n")
    for cmd in (["validate", "--data", "new.csv", "--target", "churned"],
                ["monitor", "--reference", "new.csv", "--current", "gone.csv"]):
        _assert_user_error(_run([*mlgate_bin, *cmd], tmp_path))
    assert not (tmp_path / "mlgate-reports").exists()
    earlier = tmp_path / "mlgate-reports" / "validate" / "report.json"  # a report from a run before
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    _assert_user_error(_run([*mlgate_bin, "validate", "--data", "new.csv", "--target", "churned"], tmp_path))
    assert earlier.read_text() == "{}"


def test_validate_unreadable_file(mlgate_bin: list[str], tmp_path: Path) -> None:
    (tmp_path / "data.parquet").write_bytes(b"this is not parquet at all")
    out = _run([*mlgate_bin, "validate", "--data", "data.parquet"], tmp_path)
    _assert_user_error(out, "data.parquet")


def test_misspelt_config_key(mlgate_bin: list[str], churn_project: Path) -> None:
    config = churn_project / "mlgate.yaml"
    config.write_text(config.read_text().replace("  target: target", "  targt: target"))
    for command in (["validate"], ["run"]):
        out = _run([*mlgate_bin, *command], churn_project)
        _assert_user_error(out, "mlgate.yaml is invalid", "data -> targt", "unknown key")


def test_unknown_stage_for_run(mlgate_bin: list[str], churn_project: Path) -> None:
    out = _run([*mlgate_bin, "run", "--only", "deploy"], churn_project)
    _assert_user_error(out, "'deploy' is not a stage", "validate")


def test_init_refuses_to_overwrite(mlgate_bin: list[str], churn_project: Path) -> None:
    out = _run([*mlgate_bin, "init", ".", "--example", "churn"], churn_project)
    _assert_user_error(out, "already exists", "--force")
