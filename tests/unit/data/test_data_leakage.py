"""Leakage and duplicates judged against the table's own repetition (integer-coded survey tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgate.data.schema import infer_schema
from mlgate.data.table import TableView
from mlgate.data.validator import build_checks, validate_tables
from mlgate.reports.model import Report


def survey(n: int, seed: int, questions: int = 6) -> pd.DataFrame:
    """Correlated 1-5 answers driven by one latent attitude, as real surveys repeat themselves."""
    rng = np.random.default_rng(seed)
    attitude = rng.normal(size=n)
    answers = {f"q{i}": np.clip(np.round(3 + 1.2 * attitude + rng.normal(0, 0.6, n)), 1, 5).astype(int)
               for i in range(questions)}
    return pd.DataFrame({**answers, "target": (attitude + rng.normal(0, 1, n) > 0).astype(int)})


def _validate(train: pd.DataFrame, test: pd.DataFrame) -> Report:
    schema = infer_schema(train, target="target")
    views = [TableView(train, "train", schema, "target"), TableView(test, "test", schema, "target")]
    return validate_tables(views, build_checks({}), min_score=0.9, pair=(views[0], views[1]))


def _leak(report: Report):  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.name == "train_test_leakage")


@pytest.mark.parametrize("seed", range(6))
def test_a_survey_split_iid_repeats_itself_without_failing(seed: int) -> None:
    frame = survey(2000, seed)
    train, test = frame.iloc[:1500].reset_index(drop=True), frame.iloc[1500:].reset_index(drop=True)
    report = _validate(train, test)
    leak = _leak(report)
    assert leak.details["identical_rows"] > 50  # many identical rows: the table's nature
    assert leak.passed and leak.observed == 0, leak.message
    assert report.metrics["uniqueness"] == 1.0 and report.passed, [c.message for c in report.failures]


def test_copied_rows_beyond_the_natural_rate_are_leakage() -> None:
    frame = survey(2000, 7)
    train, test = frame.iloc[:1500].reset_index(drop=True), frame.iloc[1500:].reset_index(drop=True)
    # copy 200 train rows that are unique within train: far more matches than repetition explains
    unique = train[~train.duplicated(keep=False)]
    test = pd.concat([test, unique.iloc[:200]], ignore_index=True)
    leak = _leak(_validate(train, test))
    assert not leak.passed and leak.observed > 50  # the excess over what 700 rows would match anyway
    assert "expected" in leak.message and leak.details["p_value"] < 0.001
    assert leak.details["bad_cells"] == leak.observed * 7


def test_a_table_with_a_continuous_column_counts_every_match() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1000), "q": rng.integers(1, 3, 1000),
                          "target": rng.integers(0, 2, 1000)})
    train, test = frame.iloc[:750].reset_index(drop=True), frame.iloc[750:].reset_index(drop=True)
    test = pd.concat([test, train.iloc[:2]], ignore_index=True)
    leak = _leak(_validate(train, test))
    assert not leak.passed and leak.observed == 2 and leak.details["p_value"] is None


def test_within_table_duplicates_of_a_discrete_table_are_explained() -> None:
    frame = survey(1500, 3)
    report = _validate(frame, frame.iloc[:10])
    dup = next(c for c in report.checks if c.name == "duplicate_rows" and c.details["table"] == "train")
    assert dup.passed and dup.details["explained"] and "rows repeat naturally" in dup.message
