"""Real tables end to end, as a new user tries them: an i.i.d. split, `mlgate init .`, `mlgate run`.

The tables ship inside scikit-learn (no download) or are generated here: binary, multiclass and
regression, an integer-coded survey that repeats its rows, a table with a constant column. On
a clean split no default gate may fail except on the model's own skill; with one feature
shifted by one standard deviation in the test table, validate or test must fail naming it.

The config is the one `init` writes, with three test-only overrides that keep the run fast or
stable on a busy 2-core machine: the linear model alone (not also gradient boosting), 5
importance resamples, and inference timing as a warning (as docs/test.md advises for shared
runners). One clean case and one shifted case run by default; the full matrix is `slow`.

Messy tables (text columns, missing values, names, counts) from statsmodels and palmerpenguins
go through `mlgate init . --target COL` with init's config untouched except inference timing as a
warning: the clean split passes every default gate except a performance threshold the model
truly misses, and the model named by its folder (not the pipeline) passes too; a shifted
column, a 40% hole in a column and a 1-nearest-neighbour model are each caught. Penguins runs by
default, the other tables and seeds with `-m slow`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import datasets
from sklearn.model_selection import train_test_split

from _support.tables import MESSY_TABLES, sklearn_table

pytestmark = pytest.mark.integration


def _survey() -> pd.DataFrame:
    """1,600 answers to 8 questions on a 1-5 scale: a table made of repeated rows."""
    rng = np.random.default_rng(11)
    n = 1600
    mood = rng.normal(size=n)
    answers = {f"q{i}": np.clip(np.round(3 + mood * rng.uniform(0.5, 1.2) + rng.normal(0, 0.8, n)), 1, 5).astype(int)
               for i in range(8)}
    frame = pd.DataFrame(answers)
    frame["target"] = (mood + rng.normal(0, 0.7, n) > 0.3).astype(int)
    return frame


def _with_constant() -> pd.DataFrame:
    frame = sklearn_table(datasets.load_wine)()
    frame.insert(0, "site", 1)  # the same value in every row
    return frame


TABLES: dict[str, Callable[[], pd.DataFrame]] = {
    "breast_cancer": sklearn_table(datasets.load_breast_cancer), "wine": sklearn_table(datasets.load_wine),
    "iris": sklearn_table(datasets.load_iris), "diabetes": sklearn_table(datasets.load_diabetes),
    "digits": sklearn_table(datasets.load_digits), "survey": _survey, "constant_column": _with_constant,
}
SHIFTED = {"breast_cancer": "mean radius", "wine": "alcohol", "diabetes": "bmi", "survey": "q3",
           "constant_column": "alcohol", "digits": "pixel_3_3", "iris": "sepal length (cm)"}


def _project(folder: Path, table: str, seed: int, shift: str | None = None) -> Path:
    frame = TABLES[table]()
    train, test = train_test_split(frame, test_size=0.25, random_state=seed)
    if shift is not None:
        test = test.copy()
        test[shift] = test[shift] + frame[shift].std()  # one standard deviation
    (folder / "data").mkdir(parents=True)
    train.to_csv(folder / "data" / "train.csv", index=False)
    test.to_csv(folder / "data" / "test.csv", index=False)
    return folder


def _mlgate(mlgate_bin: list[str], folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*mlgate_bin, *args], cwd=folder, capture_output=True, text=True, timeout=600, env=env)


def _init_and_run(mlgate_bin: list[str], folder: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, dict]]:
    init = _mlgate(mlgate_bin, folder, "init", ".")
    assert init.returncode == 0, init.stdout + init.stderr
    assert "inferred target: 'target'" in init.stdout and "inferred task:" in init.stdout
    config = yaml.safe_load((folder / "mlgate.yaml").read_text())
    config["models"] = config["models"][:1]  # the linear model: the fast one
    config["gates"]["test"].update({"feature_importance": {"n_bootstrap": 5},
                                    "inference": {"severity": "warning", "single_calls": 50, "batches": 2}})
    (folder / "mlgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = _mlgate(mlgate_bin, folder, "run", "--until", "test")
    reports = {}
    for stage in ("validate", "train", "test"):
        file = folder / ".mlgate" / "runs" / "latest" / stage / "report.json"
        if file.exists():
            reports[stage] = json.loads(file.read_text())
    return run, reports


def _failed(reports: dict[str, dict]) -> list[str]:
    return [f"{stage}: {c['name']} [{c.get('column')}] {c['message']}" for stage, r in reports.items()
            for c in r.get("checks", []) if not c["passed"] and c["severity"] == "error"]


CLEAN = [pytest.param("breast_cancer", 0, id="breast_cancer-0")] + [
    pytest.param(table, seed, id=f"{table}-{seed}", marks=pytest.mark.slow)
    for table in TABLES for seed in (0, 1, 2) if (table, seed) != ("breast_cancer", 0)]


@pytest.mark.parametrize(("table", "seed"), CLEAN)
def test_a_clean_split_passes_every_default_gate(mlgate_bin: list[str], tmp_path: Path, table: str,
                                                 seed: int) -> None:
    run, reports = _init_and_run(mlgate_bin, _project(tmp_path, table, seed))
    failed = _failed(reports)
    assert run.returncode == 0 and not failed, "\n".join(failed) + run.stdout[-3000:] + run.stderr[-2000:]
    assert set(reports) == {"validate", "train", "test"}


SHIFT = [pytest.param("breast_cancer", id="breast_cancer")] + [
    pytest.param(table, id=table, marks=pytest.mark.slow) for table in SHIFTED if table != "breast_cancer"]


@pytest.mark.parametrize("table", SHIFT)
def test_one_feature_shifted_by_one_sd_fails_naming_it(mlgate_bin: list[str], tmp_path: Path, table: str) -> None:
    column = SHIFTED[table]
    run, reports = _init_and_run(mlgate_bin, _project(tmp_path, table, 0, shift=column))
    failed = _failed(reports)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert any(f"[{column}]" in f or repr(column) in f for f in failed), "\n".join(failed)


def test_init_without_a_recognisable_target_exits_2_listing_the_columns(mlgate_bin: list[str],
                                                                        tmp_path: Path) -> None:
    frame = TABLES["iris"]().rename(columns={"target": "species"})
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "train.csv", index=False)
    out = _mlgate(mlgate_bin, tmp_path, "init", ".")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Pass --target COLUMN" in out.stderr and "'species'" in out.stderr
    assert not (tmp_path / "mlgate.yaml").exists()
    again = _mlgate(mlgate_bin, tmp_path, "init", ".", "--target", "species")
    assert again.returncode == 0 and "inferred task: multiclass (3 distinct values" in again.stdout


def _messy_project(folder: Path, table: str, seed: int) -> Path:
    frame = MESSY_TABLES[table][0]()
    train, test = train_test_split(frame, test_size=0.25, random_state=seed)
    (folder / "data").mkdir(parents=True)
    train.to_csv(folder / "data" / "train.csv", index=False)
    test.to_csv(folder / "data" / "test.csv", index=False)
    return folder


def _init_messy(mlgate_bin: list[str], folder: Path, table: str) -> None:
    target = MESSY_TABLES[table][1]
    init = _mlgate(mlgate_bin, folder, "init", ".", "--target", target)
    assert init.returncode == 0, init.stdout + init.stderr
    config = yaml.safe_load((folder / "mlgate.yaml").read_text())
    config["gates"]["test"].update({"inference": {"severity": "warning"}})  # timing on a shared machine
    (folder / "mlgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _report(folder: Path, stage: str) -> dict:
    return json.loads((folder / ".mlgate" / "runs" / "latest" / stage / "report.json").read_text())


def _blocking(report: dict, *, but: str = "performance") -> list[str]:
    return [f"{c['name']} [{c.get('column')}] {c['message']}" for c in report["checks"]
            if not c["passed"] and c["severity"] == "error" and c["name"] != but]


MESSY_CLEAN = [pytest.param("penguins", 0, id="penguins-0")] + [
    pytest.param(table, seed, id=f"{table}-{seed}", marks=pytest.mark.slow)
    for table in MESSY_TABLES for seed in (0, 1) if (table, seed) != ("penguins", 0)]


@pytest.mark.timeout(900)  # init, a pipeline run and a second test run: minutes on a loaded machine
@pytest.mark.parametrize(("table", "seed"), MESSY_CLEAN)
def test_a_messy_table_passes_every_default_gate_however_the_model_is_named(
        mlgate_bin: list[str], tmp_path: Path, table: str, seed: int) -> None:
    folder = _messy_project(tmp_path, table, seed)
    _init_messy(mlgate_bin, folder, table)
    run = _mlgate(mlgate_bin, folder, "run", "--until", "test")
    reports = {stage: _report(folder, stage) for stage in ("validate", "train", "test")}
    failed = [f"{stage}: {f}" for stage, r in reports.items() for f in _blocking(r)]
    assert not failed, "\n".join(failed) + run.stdout[-3000:] + run.stderr[-2000:]
    families = reports["test"]["families"]
    assert families["robustness"] == "passed" and families["reproducibility"] == "passed", families
    # the same model named by its folder, as `mlgate test --model` takes it: refit on its own fit rows
    model = folder / ".mlgate" / "runs" / "latest" / "train" / "model"
    again = _mlgate(mlgate_bin, folder, "test", "--model", str(model), "--checks", "reproducibility,robustness",
                    "--output", "by-path")
    assert again.returncode == 0, again.stdout + again.stderr
    by_path = json.loads((folder / "by-path" / "report.json").read_text())
    assert by_path["details"]["reproducibility"]["fit_rows"] == "the model's record"
    assert by_path["details"]["reproducibility"]["train_rows"] == reports["train"]["validation"]["rows"]


def test_a_hole_a_shift_and_a_fragile_model_are_caught_on_a_messy_table(mlgate_bin: list[str],
                                                                         tmp_path: Path) -> None:
    import joblib
    from sklearn.neighbors import KNeighborsClassifier

    from mlgate.train.preprocess import build_pipeline, feature_set

    frame = MESSY_TABLES["penguins"][0]()
    train, test = train_test_split(frame, test_size=0.25, random_state=0)
    # 40% of a column train had complete goes missing; the island shares move
    holed = test.copy()
    holed.loc[holed.index[: int(0.4 * len(holed))], "bill_depth_mm"] = np.nan
    holed["island"] = np.where(np.arange(len(holed)) % 2 == 0, "Torgersen", holed["island"])
    folder = tmp_path / "hole"
    (folder / "data").mkdir(parents=True)
    train.dropna(subset=["bill_depth_mm"]).to_csv(folder / "data" / "train.csv", index=False)
    holed.to_csv(folder / "data" / "test.csv", index=False)
    _init_messy(mlgate_bin, folder, "penguins")
    run = _mlgate(mlgate_bin, folder, "run", "--until", "validate")
    assert run.returncode == 1, run.stdout + run.stderr
    failed = _blocking(_report(folder, "validate"))
    assert any(f.startswith("null_share [bill_depth_mm]") for f in failed), "\n".join(failed)
    assert any(f.startswith("feature_distribution [island]") for f in failed), "\n".join(failed)
    # a 1-nearest-neighbour on the affairs survey plus ten columns of noise: robustness names it
    # fragile (excess 0.085 against the floor 0.05; on penguins and the election survey a 1-NN moves
    # less, 0.027 and 0.035, and passes: docs/test.md)
    clean = tmp_path / "fragile"
    (clean / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    survey = MESSY_TABLES["fair"][0]()
    noisy = survey.assign(**{f"noise{i}": rng.normal(size=len(survey)) for i in range(10)})
    fit_rows, test_rows = train_test_split(noisy, test_size=0.25, random_state=0)
    fit_rows.to_csv(clean / "data" / "train.csv", index=False)
    test_rows.to_csv(clean / "data" / "test.csv", index=False)
    data = pd.read_csv(clean / "data" / "train.csv")
    features = feature_set(data, "had_affair")
    knn = build_pipeline(features, KNeighborsClassifier(n_neighbors=1)).fit(data[features.columns],
                                                                            data["had_affair"])
    joblib.dump(knn, clean / "knn.joblib")
    out = _mlgate(mlgate_bin, clean, "test", "--model", "knn.joblib", "--data", "data/test.csv", "--reference",
                  "data/train.csv", "--target", "had_affair", "--checks", "robustness")
    assert out.returncode == 1 and "fragile" in out.stdout, out.stdout + out.stderr
