"""`mlgate validate` through the console script: bare folders, the config, and bad inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration


def mlgate(bin_: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*bin_, "validate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def bare(tmp_path: Path, _small_churn_template: Path) -> Path:
    """A folder with only the data, no mlgate.yaml."""
    folder = tmp_path / "bare"
    shutil.copytree(_small_churn_template / "data", folder)
    return folder


def test_bare_folder_infer_then_validate(mlgate_bin: list[str], bare: Path) -> None:
    first = mlgate(mlgate_bin, "--data", "train.csv", "--infer-schema", "schema.yaml",
                   "--target", "target", cwd=bare)
    assert first.returncode == 0, first.stderr
    assert "wrote schema schema.yaml" in first.stdout and "PASSED" in first.stdout
    reports = bare / "mlgate-reports" / "validate"
    assert {p.name for p in reports.iterdir()} >= {"report.json", "junit.xml", "summary.md", "report.html"}

    second = mlgate(mlgate_bin, "--data", "test.csv", "--schema", "schema.yaml", "--reference",
                    "train.csv", "--output", "out", cwd=bare)
    assert second.returncode == 0, second.stdout + second.stderr
    report = json.loads((bare / "out" / "report.json").read_text())
    assert report["stage"] == "validate" and report["passed"] is True and report["score"] >= 0.99
    names = {c["name"] for c in report["checks"]}
    assert {"train_test_leakage", "target_distribution", "out_of_range", "quality_score"} <= names
    for check in report["checks"]:
        assert set(check) == {"name", "passed", "severity", "column", "observed", "expected",
                              "message", "details"}
    junit = (bare / "out" / "junit.xml").read_text()
    assert junit.count("<testcase") == len(report["checks"])
    html = (bare / "out" / "report.html").read_text()
    assert html.index("Checks") < html.index("Column profile: test") and "<svg" in html


def test_fault_fails_the_gate_with_exit_1(mlgate_bin: list[str], bare: Path) -> None:
    test = pd.read_csv(bare / "test.csv")
    test.loc[3, "region"] = "atlantis"
    test.to_csv(bare / "bad.csv", index=False)
    proc = mlgate(mlgate_bin, "--data", "bad.csv", "--reference", "train.csv", "--target", "target",
                  cwd=bare)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "unseen_categories" in proc.stdout and "atlantis" in proc.stdout and "FAILED" in proc.stdout
    report = json.loads((bare / "mlgate-reports/validate/report.json").read_text())
    bad = [c for c in report["checks"] if not c["passed"]]
    assert [(c["name"], c["column"], c["details"]["rows"]) for c in bad] == [("unseen_categories", "region", [3])]


def test_thresholds_file_sets_the_score_gate(mlgate_bin: list[str], bare: Path) -> None:
    (bare / "thresholds.yaml").write_text("min_quality_score: 0.9999\n")
    proc = mlgate(mlgate_bin, "--data", "test.csv", "--thresholds", "thresholds.yaml", cwd=bare)
    assert proc.returncode == 1 and "quality_score" in proc.stdout


def test_config_mode_validates_the_project(mlgate_bin: list[str], tmp_path: Path,
                                           _small_churn_template: Path) -> None:
    project = tmp_path / "proj"
    shutil.copytree(_small_churn_template, project)
    proc = mlgate(mlgate_bin, cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "quality 0.99" in proc.stdout
    assert (project / "mlgate-reports/validate/schema.yaml").exists()


def test_no_config_and_no_data_is_usage_error(mlgate_bin: list[str], tmp_path: Path) -> None:
    proc = mlgate(mlgate_bin, cwd=tmp_path)
    assert proc.returncode == 2 and "pass --data FILE" in proc.stderr


def _write(folder: Path, name: str, content: bytes) -> str:
    (folder / name).write_bytes(content)
    return name


BAD_INPUTS = {
    "no-target-column": (b"a,b\n1,2\n3,4\n", r"no.csv has no column 'target'"),
    "unreadable": (b"PAR1 this is not parquet", r"cannot read .*no.parquet"),
    "empty": (b"", r"no.csv is empty \(0 bytes\)"),
    "header-only": (b"a,b,target\n", r"no.csv has a header but no rows"),
    "wrong-delimiter": (b"a:b:target\n1:2:0\n3:4:1\n", r"no.csv reads as one column 'a:b:target'"),
    "mixed-delimiters": (b"a;b;target\n1,2,0\n3,4,1\n", r"no.csv: rows do not split into the header's 3 columns"),
    "not-utf8": ("a,b,target\ncaf\xe9,1,0\n".encode("latin-1"), r"no.csv is not UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_file(case: str, mlgate_bin: list[str], tmp_path: Path) -> None:
    content, message = BAD_INPUTS[case]
    name = _write(tmp_path, "no.parquet" if case == "unreadable" else "no.csv", content)
    proc = mlgate(mlgate_bin, "--data", name, "--target", "target", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("Error:")
    import re

    assert re.search(message, " ".join(proc.stderr.split())), proc.stderr


def test_schema_that_does_not_parse_exits_2(mlgate_bin: list[str], bare: Path) -> None:
    (bare / "schema.yaml").write_text("columns:\n  age: {dtype: int, min: [}\n")
    proc = mlgate(mlgate_bin, "--data", "test.csv", "--schema", "schema.yaml", cwd=bare)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "schema.yaml is not valid YAML at line 2" in " ".join(proc.stderr.split())
    (bare / "schema.yaml").write_text("columns:\n  age: {dtype: number}\n")
    proc = mlgate(mlgate_bin, "--data", "test.csv", "--schema", "schema.yaml", cwd=bare)
    assert proc.returncode == 2 and "columns -> age -> dtype (line 2)" in " ".join(proc.stderr.split())
