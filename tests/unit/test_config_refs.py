"""mlgate.config_refs: the columns and metrics mlgate.yaml names, checked against headers and the task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlgate.config import load_config
from mlgate.config_refs import closest, table_header
from mlgate.errors import ConfigError


def _project(tmp_path: Path, body: str, suffix: str = ".csv") -> Path:
    frame = pd.DataFrame({"age": [1, 2, 3], "city": ["a", "b", "c"], "churned": [0, 1, 0]})
    (tmp_path / "data").mkdir()
    if suffix == ".parquet":
        frame.to_parquet(tmp_path / "data" / "train.parquet")
    else:
        frame.to_csv(tmp_path / "data" / "train.csv", sep=";" if suffix == ".semi" else ",", index=False)
    name = "train.parquet" if suffix == ".parquet" else "train.csv"
    (tmp_path / "mlgate.yaml").write_text(f"data:\n  train: data/{name}\n  target: churned\n{body}")
    return tmp_path / "mlgate.yaml"


@pytest.mark.parametrize("suffix", [".csv", ".semi", ".parquet"])
def test_headers_of_csv_semicolon_csv_and_parquet(tmp_path: Path, suffix: str) -> None:
    config = _project(tmp_path, "", suffix)
    file = next((tmp_path / "data").iterdir())
    assert table_header(file) == ["age", "city", "churned"]
    assert table_header(file.parent) == ["age", "city", "churned"]  # a folder: its first table
    assert load_config(config).data.target == "churned"


def test_every_problem_listed_with_its_line(tmp_path: Path) -> None:
    config = _project(tmp_path, "task: binary\ngates:\n  evaluate:\n    thresholds: {f1macro: 0.5}\n"
                                "    slices: [citty]\n  compare: {metric: r2}\n")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    text = str(info.value)
    assert text.startswith("mlgate.yaml does not fit its data or task (3 problems)")
    assert "gates -> evaluate -> thresholds -> f1macro (line 7): 'f1macro' is not a binary metric; " \
           "did you mean 'f1_macro'?" in text
    assert "gates -> evaluate -> slices -> 0 (line 8): 'citty' is not a column of data/train.csv; " \
           "did you mean 'city'?" in text
    assert "gates -> compare -> metric (line 9): 'r2' is a regression metric, not a binary metric" in text


def test_without_a_task_any_tasks_metric_is_accepted_and_cost_metrics_need_costs(tmp_path: Path) -> None:
    config = _project(tmp_path, "gates:\n  test:\n    performance: {rmse: 3, roc_auc: 0.7}\n"
                                "  evaluate: {thresholds: {savings: 1}}\n")
    with pytest.raises(ConfigError, match=r"'savings' needs a cost matrix \(business.costs"):
        load_config(config)


def test_a_missing_data_file_is_left_to_the_stage_that_names_its_key(tmp_path: Path) -> None:
    (tmp_path / "mlgate.yaml").write_text("data: {train: data/none.csv, target: y}\n")
    assert load_config(tmp_path / "mlgate.yaml").data.target == "y"


def test_closest_is_case_blind_and_none_when_far() -> None:
    assert closest("Target", ["target", "age"]) == "target"
    assert closest("patient_id", ["customer_id", "age"]) is None


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes("\ufefftarget,age\n1,2\n".encode())
    assert table_header(tmp_path / "t.csv") == ["target", "age"]
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == ["target", "age"]  # as the stages read it
