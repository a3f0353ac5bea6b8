"""Duplicate and leaked rows via prefiltered hashes agree with pandas' exact answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgate.data.rowmatch import duplicate_mask, leaked_rows, prefilter_columns
from mlgate.data.schema import infer_schema
from mlgate.data.table import TableView


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.integers(0, 3, rows), "b": rng.integers(0, 2, rows).astype(float),
        "c": rng.choice(["x", "y"], rows), "d": rng.integers(0, 2, rows),
        "e": rng.choice([True, False], rows), "f": rng.integers(0, 50, rows),
    })


def _view(frame: pd.DataFrame) -> TableView:
    return TableView(frame, "t", infer_schema(frame))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duplicates_match_pandas(seed: int) -> None:
    frame = _frame(400, seed)  # few distinct values: many coarse collisions, some true duplicates
    cols = tuple(frame.columns)
    expected = frame.duplicated(keep="first").to_numpy()
    assert expected.any() and (~expected).any()
    np.testing.assert_array_equal(duplicate_mask(_view(frame), cols), expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_leaked_rows_match_a_merge(seed: int) -> None:
    train, test = _frame(300, seed), _frame(200, seed + 10)
    test["b"] = test["b"].astype(int)  # loaded as int in one file, float in the other
    cols = tuple(test.columns)
    mask, matches = leaked_rows(_view(train), _view(test), cols)
    keyed = train.astype({"b": float}).reset_index().drop_duplicates(list(cols))
    merged = test.astype({"b": float}).reset_index().merge(keyed, on=list(cols), how="left",
                                                          suffixes=("", "_train"))
    expected = merged["index_train"].notna().to_numpy()
    assert expected.any()
    np.testing.assert_array_equal(mask, expected)
    for row, train_row in matches.items():
        assert train_row == int(merged.loc[row, "index_train"])


def test_prefilter_picks_high_cardinality_columns() -> None:
    frame = _frame(1000, 0).assign(g=np.arange(1000.0))
    assert set(prefilter_columns(_view(frame), tuple(frame.columns))) >= {"g", "f"}


def test_duplicates_in_a_high_cardinality_table_match_pandas() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000),
                          "z": rng.normal(size=2000), "w": rng.integers(0, 3, 2000)})
    frame = pd.concat([frame, frame.iloc[[7, 7, 99]]], ignore_index=True)
    frame.loc[5, ["x", "y", "z"]] = frame.loc[6, ["x", "y", "z"]].to_numpy()  # equal on x,y,z only
    expected = frame.duplicated(keep="first").to_numpy()
    assert expected.sum() == 3 + bool((frame.loc[5] == frame.loc[6]).all())
    np.testing.assert_array_equal(duplicate_mask(_view(frame), tuple(frame.columns)), expected)
