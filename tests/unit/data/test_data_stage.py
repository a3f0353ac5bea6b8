"""``run_validate``: as a pipeline stage, and standalone on any file (``mlgate validate --data``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlgate.config import load_config
from mlgate.context import StageContext, standalone_context
from mlgate.data.schema import load_schema
from mlgate.data.stage import ValidateOptions, run_validate
from mlgate.errors import ConfigError, DataError, UsageError


@pytest.fixture
def project(tmp_path: Path, _small_churn_template: Path) -> Path:
    folder = tmp_path / "churn"
    shutil.copytree(_small_churn_template, folder)
    return folder


def validate_file(data: Path, reference: Path | None = None, **options: Any) -> object:
    """``mlgate validate --data DATA [--reference ...] [--target ...]`` in a bare folder."""
    return run_validate(standalone_context("validate", None, data=data, reference=reference,
                                           output=data.parent / "reports"), ValidateOptions(**options))


def _run(project: Path) -> tuple[object, Path]:
    out = project / "out"
    report = run_validate(StageContext(config=load_config(project / "mlgate.yaml"), out_dir=out))
    return report, out


def test_bundled_example_passes(project: Path) -> None:
    report, out = _run(project)
    assert report.passed, [c.message for c in report.failures]
    assert report.score >= 0.99
    assert report.key_figure.startswith(f"quality {report.score:.3f}, 0 errors, ")
    schema = load_schema(out / "schema.yaml")
    assert schema.target == "target" and schema.keys == ["customer_id"]
    assert {"train", "test"} == {c.details.get("table") for c in report.checks if c.details.get("table")}
    assert any(c.name == "train_test_leakage" for c in report.checks)
    assert report.extras["tables"]["test"]["rows"] == 600
    assert report.extras["profile"]["train"]["age"]["kind"] == "int"
    assert [s.title for s in report.sections] == ["Column profile: train", "Column profile: test"]


def test_duplicate_ids_and_leakage_across_files(project: Path) -> None:
    train = pd.read_csv(project / "data/train.csv")
    test = pd.read_csv(project / "data/test.csv")
    test = pd.concat([test, train.iloc[[0, 1]]], ignore_index=True)  # same customers in both
    test.loc[5, "customer_id"] = test.loc[4, "customer_id"]
    test.to_csv(project / "data/test.csv", index=False)
    report, _ = _run(project)
    failed = {(c.name, c.column, c.details.get("table")) for c in report.checks if not c.passed}
    assert ("train_test_leakage", None, "test") in failed
    assert ("duplicate_keys", "customer_id", "test") in failed
    assert not report.passed


def test_schema_file_and_check_settings_from_config(project: Path) -> None:
    _run(project)
    (project / "schema.yaml").write_text((project / "out/schema.yaml").read_text()
                                         .replace("    - west\n", ""))
    (project / "out/schema.yaml").unlink()
    cfg = (project / "mlgate.yaml").read_text()
    cfg = cfg.replace("  id_columns: [customer_id]", "  id_columns: [customer_id]\n  schema: schema.yaml")
    cfg = cfg.replace("validate: {min_quality_score: 0.9}",
                      "validate: {min_quality_score: 0.9, checks: {unseen_categories: {severity: warning},"
                      " class_imbalance: {max_ratio: 2}}}")
    (project / "mlgate.yaml").write_text(cfg)
    report, out = _run(project)
    warned = {(c.name, c.column) for c in report.warnings}
    assert ("unseen_categories", "region") in warned and ("class_imbalance", "target") in warned
    assert report.passed and not (out / "schema.yaml").exists()
    assert report.extras["schema"].endswith("schema.yaml")


def test_target_absent_is_a_data_error(project: Path) -> None:
    pd.read_csv(project / "data/test.csv").drop(columns=["target"]).to_csv(project / "data/test.csv", index=False)
    # found when the config is loaded, before any stage reads the data (mlgate.config_refs)
    with pytest.raises(ConfigError, match=r"data -> target \(line \d+\): 'target' is not a column of data/test.csv"):
        _run(project)


def test_standalone_infers_from_reference(project: Path, tmp_path: Path) -> None:
    report = validate_file(project / "data/test.csv", project / "data/train.csv",
                           target="target", infer_schema=tmp_path / "s.yaml")
    assert report.passed and (tmp_path / "s.yaml").exists()
    assert report.extras["reference"] == "train.csv"
    assert load_schema(tmp_path / "s.yaml").keys == ["customer_id"]


def test_standalone_thresholds_file(project: Path, tmp_path: Path) -> None:
    thresholds = tmp_path / "t.yaml"
    thresholds.write_text("min_quality_score: 0.999\nchecks: {row_count: {min: 10}}\n")
    report = validate_file(project / "data/test.csv", target="target", thresholds=thresholds)
    assert [c.name for c in report.failures] == ["quality_score"]
    thresholds.write_text("min_quality_scor: 0.9\n")
    with pytest.raises(ConfigError, match=r"min_quality_scor \(line 1\): unknown key"):
        validate_file(project / "data/test.csv", target="target", thresholds=thresholds)


def test_standalone_usage_errors(project: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not both"):
        validate_file(project / "data/test.csv", schema=tmp_path / "a.yaml", infer_schema=tmp_path / "b.yaml")
    with pytest.raises(DataError, match=r"test.csv has no column 'churned'"):
        validate_file(project / "data/test.csv", target="churned")


def test_parquet_file_and_folder_of_csvs(project: Path, tmp_path: Path) -> None:
    test = pd.read_csv(project / "data/test.csv")
    test.to_parquet(tmp_path / "test.parquet")
    folder = tmp_path / "parts"
    folder.mkdir()
    test.iloc[:300].to_csv(folder / "a.csv", index=False)
    test.iloc[300:].to_csv(folder / "b.csv", index=False)
    for data in (tmp_path / "test.parquet", folder):
        report = validate_file(data, project / "data/train.csv", target="target")
        assert report.passed, [c.message for c in report.failures]
        assert report.extras["tables"][data.name]["rows"] == 600


def test_standalone_project_run_takes_the_thresholds_file(project: Path, tmp_path: Path) -> None:
    """`mlgate validate --thresholds t.yaml` in a project: the file replaces gates.validate."""
    thresholds = tmp_path / "t.yaml"
    thresholds.write_text("min_quality_score: 0.9999\n")
    ctx = standalone_context("validate", load_config(project / "mlgate.yaml"), output=tmp_path / "out")
    report = run_validate(ctx, ValidateOptions(thresholds=thresholds))
    assert [c.name for c in report.failures] == ["quality_score"]
    assert report.extras["tables"].keys() == {"train", "test"}  # the project's tables, not a --data file
    with pytest.raises(UsageError, match="not both"):
        run_validate(standalone_context("validate", load_config(project / "mlgate.yaml"), output=tmp_path / "o2"),
                     ValidateOptions(schema=tmp_path / "a.yaml", infer_schema=tmp_path / "b.yaml"))
