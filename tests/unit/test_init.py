"""`mlgate init` reads the data when there is some: target, task, id columns, models, thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.config import load_config
from mlgate.errors import DataError, UsageError
from mlgate.project import TEMPLATE, init_project


def _frame(n: int, seed: int, target: str = "target", kind: str = "binary") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"customer_id": np.arange(n) + 1000 * seed, "x": x, "grade": rng.choice(["a", "b"], n),
                          "gender": rng.choice(["f", "m"], n)})
    if kind == "binary":
        frame[target] = (x > 0).astype(int)
    elif kind == "multiclass":
        frame[target] = np.digitize(x, [-0.5, 0.5])
    else:
        frame[target] = 3.0 * x + rng.normal(0, 1, n)
    return frame


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        frame.to_parquet(folder / name, index=False)
    else:
        frame.to_csv(folder / name, index=False)


def test_without_data_it_writes_the_commented_template(tmp_path: Path) -> None:
    result = init_project(tmp_path)
    assert result.written == [tmp_path / "mlgate.yaml"] and result.reasons == []
    assert (tmp_path / "mlgate.yaml").read_text() == TEMPLATE.read_text()


def test_train_and_test_in_data_folder_binary_with_an_id_column(tmp_path: Path) -> None:
    _write(tmp_path, "data/train.csv", _frame(300, 0))
    _write(tmp_path, "data/test.csv", _frame(100, 1))
    result = init_project(tmp_path)
    config = load_config(tmp_path / "mlgate.yaml")
    assert (config.data.train, config.data.test, config.data.target) == ("data/train.csv", "data/test.csv", "target")
    assert config.task == "binary" and config.data.id_columns == ["customer_id"]
    assert [m.type for m in config.models] == ["logistic-regression", "gradient-boosting"]
    share = (_frame(300, 0)["target"].value_counts(normalize=True)).max()
    assert config.gates.test.performance == {"roc_auc": 0.7, "accuracy": np.floor(share * 100) / 100}
    text = "\n".join(result.reasons)
    assert "a column named 'target'" in text and "customer_id (named like an id and unique in 300 rows" in text
    assert f"majority class's share {share:.1%}" in text
    assert "look like protected attributes: gender" in (tmp_path / "mlgate.yaml").read_text()


def test_one_table_given_with_data_is_split_and_regression_gets_regression_models(tmp_path: Path) -> None:
    _write(tmp_path, "all.parquet", _frame(400, 2, target="outcome", kind="regression"))
    result = init_project(tmp_path, data=tmp_path / "all.parquet")
    config = load_config(tmp_path / "mlgate.yaml")
    assert config.data.path == "all.parquet" and config.data.train is None and config.data.split.test == 0.2
    assert config.task == "regression" and config.data.target == "outcome"
    assert [m.type for m in config.models] == ["linear-regression", "gradient-boosting"]
    perf = config.gates.test.performance
    assert perf == {"r2": 0.0}  # r2 on the test rows: "beats their mean", however those rows spread
    assert any(r.startswith("task: regression (") for r in result.reasons)


def test_target_named_label_in_any_case_and_multiclass_in_the_folder_itself(tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", _frame(300, 3, target="Label", kind="multiclass"))
    result = init_project(tmp_path)
    config = load_config(tmp_path / "mlgate.yaml")
    assert config.data.target == "Label" and config.task == "multiclass"
    assert config.data.train == "train.csv" and config.data.test is None
    assert "accuracy" in config.gates.test.performance and "task: multiclass (3 distinct values" in "\n".join(
        result.reasons)


def test_no_target_column_asks_for_target_and_lists_the_columns(tmp_path: Path) -> None:
    _write(tmp_path, "data/train.csv", _frame(50, 4, target="churned"))
    with pytest.raises(UsageError, match=r"Pass --target COLUMN \(columns: 'customer_id', 'x'.*'churned'") as info:
        init_project(tmp_path)
    assert info.value.exit_code == 2 and not (tmp_path / "mlgate.yaml").exists()
    init_project(tmp_path, target="churned")
    assert load_config(tmp_path / "mlgate.yaml").data.target == "churned"


def test_bad_target_input_is_exit_2_naming_it(tmp_path: Path) -> None:
    frame = _frame(50, 5)
    _write(tmp_path, "data/train.csv", frame)
    with pytest.raises(UsageError, match="--target 'nope': .* has no such column"):
        init_project(tmp_path, target="nope")
    frame["target"] = 1
    _write(tmp_path, "data/train.csv", frame)
    with pytest.raises(DataError, match="target column 'target' has 1 distinct value") as info:
        init_project(tmp_path)
    assert info.value.exit_code == 2 and not (tmp_path / "mlgate.yaml").exists()


def test_target_without_data_and_overwriting_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no data was found"):
        init_project(tmp_path, target="y")
    init_project(tmp_path)
    with pytest.raises(UsageError, match="already exists; pass --force"):
        init_project(tmp_path)


def test_an_id_named_column_that_repeats_is_a_feature_not_an_id(tmp_path: Path) -> None:
    frame = _frame(200, 6)
    frame["store_id"] = np.arange(200) % 7
    _write(tmp_path, "data/train.csv", frame)
    init_project(tmp_path)
    assert load_config(tmp_path / "mlgate.yaml").data.id_columns == ["customer_id"]


def test_a_folder_with_several_unnamed_tables_says_how_to_name_them(tmp_path: Path) -> None:
    _write(tmp_path, "data/a.csv", _frame(20, 7))
    _write(tmp_path, "data/b.csv", _frame(20, 8))
    with pytest.raises(UsageError, match="none is named train"):
        init_project(tmp_path)
