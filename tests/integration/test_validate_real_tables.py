"""`mlgate validate` on real tables split i.i.d.: clean splits pass, a 1 sd shift fails naming the column.

Tables ship inside scikit-learn (breast cancer, wine, iris, diabetes; no download) or are generated
here: an integer-coded survey whose rows repeat, and a table with a constant column. Each is split
with ``train_test_split(test_size=0.25)`` over three seeds. The matrix runs through the library call
behind the command (``run_validate`` on a ``standalone_context`` without a config: bare-folder mode;
on a project config); the console script runs one case of each mode and the bad inputs, so the exit
codes are the user's.
Seed 0 of every table runs by default, the other seeds with ``-m slow``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import datasets
from sklearn.model_selection import train_test_split

from _support.tables import sklearn_table
from mlgate.config import load_config
from mlgate.context import StageContext, standalone_context
from mlgate.data.stage import ValidateOptions, run_validate
from mlgate.reports.model import Report

pytestmark = pytest.mark.integration


def _survey() -> pd.DataFrame:
    """1,600 answers to 8 questions on a 1-5 scale, driven by one latent mood: rows repeat."""
    rng = np.random.default_rng(5)
    mood = rng.normal(size=1600)
    frame = pd.DataFrame({f"q{i}": np.clip(np.round(3 + mood + rng.normal(0, 0.8, 1600)), 1, 5).astype(int)
                          for i in range(8)})
    frame["target"] = (mood + rng.normal(0, 0.7, 1600) > 0.3).astype(int)
    return frame


def _with_constant() -> pd.DataFrame:
    frame = sklearn_table(datasets.load_breast_cancer)()
    frame.insert(0, "site", 1)
    return frame


TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str]] = {  # table -> (loader, column to shift)
    "breast_cancer": (sklearn_table(datasets.load_breast_cancer), "mean radius"),
    "wine": (sklearn_table(datasets.load_wine), "alcohol"),
    "iris": (sklearn_table(datasets.load_iris), "petal length (cm)"),
    "diabetes": (sklearn_table(datasets.load_diabetes), "bmi"),
    "survey": (_survey, "q3"),
    "constant_column": (_with_constant, "mean texture"),
}
SEEDS = (0, 1, 2)


def _write(folder: Path, table: str, seed: int, shift: bool = False) -> Path:
    load, column = TABLES[table]
    frame = load()
    train, test = train_test_split(frame, test_size=0.25, random_state=seed)
    if shift:
        test = test.copy()
        test[column] = test[column] + frame[column].std()
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    (folder / "mlgate.yaml").write_text(yaml.safe_dump(
        {"project": table, "data": {"train": "train.csv", "test": "test.csv", "target": "target"}}))
    return folder


def _bare(folder: Path) -> Report:
    ctx = standalone_context("validate", None, data=folder / "test.csv", reference=folder / "train.csv",
                             output=folder / "bare")
    return run_validate(ctx, ValidateOptions(target="target"))


def _project(folder: Path) -> Report:
    out = folder / "out"
    out.mkdir()
    return run_validate(StageContext(config=load_config(folder / "mlgate.yaml"), out_dir=out))


def _errors(report: Report) -> list[str]:
    return [f"{c.name} [{c.column}] {c.message}" for c in report.failures]


# seed 0 of every table runs by default; seeds 1 and 2 are `slow` (the full matrix: pytest -m slow)
CASES = [pytest.param(t, s, id=f"{t}-{s}", marks=[pytest.mark.slow] if s else []) for t in TABLES for s in SEEDS]


@pytest.mark.parametrize(("table", "seed"), CASES)
def test_a_clean_split_passes(tmp_path: Path, table: str, seed: int) -> None:
    folder = _write(tmp_path, table, seed)
    for mode in (_bare, _project):
        report = mode(folder)
        assert report.passed, f"{mode.__name__}: " + "\n".join(_errors(report))


@pytest.mark.parametrize(("table", "seed"), CASES)
def test_one_feature_shifted_by_one_sd_fails_naming_it(tmp_path: Path, table: str, seed: int) -> None:
    column = TABLES[table][1]
    folder = _write(tmp_path, table, seed, shift=True)
    for mode in (_bare, _project):
        report = mode(folder)
        named = [e for e in _errors(report) if e.startswith(f"feature_distribution [{column}]")]
        assert not report.passed and named, f"{mode.__name__}: " + "\n".join(_errors(report))


def _cli(mlgate_bin: list[str], folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*mlgate_bin, "validate", *args], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_console_script_bare_folder_and_project(mlgate_bin: list[str], tmp_path: Path) -> None:
    folder = _write(tmp_path / "clean", "wine", 0)
    bare = _cli(mlgate_bin, folder, "--data", "test.csv", "--reference", "train.csv", "--target", "target")
    assert bare.returncode == 0, bare.stdout + bare.stderr
    project = _cli(mlgate_bin, folder)
    assert project.returncode == 0, project.stdout + project.stderr
    shifted = _write(tmp_path / "shifted", "wine", 0, shift=True)
    failed = _cli(mlgate_bin, shifted)
    assert failed.returncode == 1 and "feature_distribution" in failed.stdout and "'alcohol'" in failed.stdout


def _bad(folder: Path, kind: str) -> None:
    frame = sklearn_table(datasets.load_wine)()
    train, test = train_test_split(frame, test_size=0.25, random_state=0)
    if kind == "column_missing_in_test":
        test = test.assign(alcohol=np.nan)
    elif kind == "one_row_test":
        test = test.iloc[:1]
    elif kind == "constant_column":
        train, test = train.assign(site=3), test.assign(site=3)
    elif kind == "one_class_target":
        train, test = train.assign(target=1), test.assign(target=1)
    folder.mkdir()
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)


@pytest.mark.parametrize(("kind", "code", "says"), [
    # train had every value: an all-missing column is a 100-point hole (null_share), not a shift to judge
    ("column_missing_in_test", 1, "'alcohol': 100.00% missing vs 0.00% in train"),
    ("one_row_test", 0, "too little data to decide"),
    ("constant_column", 0, "'site' is constant"),
    ("one_class_target", 1, "target 'target': 1 distinct value"),
])
def test_bad_input_is_a_clear_outcome_never_a_crash(mlgate_bin: list[str], tmp_path: Path, kind: str, code: int,
                                                    says: str) -> None:
    _bad(tmp_path / kind, kind)
    proc = _cli(mlgate_bin, tmp_path / kind, "--data", "test.csv", "--reference", "train.csv", "--target", "target")
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and says in proc.stdout, proc.stdout + proc.stderr
