"""test's data_distribution through the core: one Holm family of shifts and missing-share rises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlgate.modeltests.base import Subject
from mlgate.modeltests.checks.distribution import DataDistribution


def _frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n),
                          "c": rng.integers(1, 6, size=n), "g": rng.choice(list("xyz"), size=n)})
    frame.loc[rng.random(n) < 0.1, "b"] = np.nan
    cut = int(0.75 * n)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def _run(ref: pd.DataFrame | None, cur: pd.DataFrame, **settings: object):  # type: ignore[no-untyped-def]
    subject = Subject(model=None, X=cur, y=np.zeros(len(cur)), task="binary", reference=ref)  # type: ignore[arg-type]
    return DataDistribution.model_validate(settings).run(subject)


@pytest.mark.parametrize("seed", range(6))
def test_clean_split_passes_even_with_ten_percent_missing(seed: int) -> None:
    ref, cur = _frames(600, seed)
    out = _run(ref, cur)
    assert out.checks[0].passed, out.checks[0].message


def test_shift_and_missing_rise_are_flagged() -> None:
    ref, cur = _frames(2000, 1)
    cur["a"] = cur["a"] + 0.5
    cur.loc[cur.index[:150], "c"] = np.nan
    out = _run(ref, cur)
    row = out.checks[0]
    assert not row.passed and row.observed["shifted"] == ["a", "c"]
    assert "'a': KS distance" in row.message and "'c (missing share)'" in row.message
    assert out.details["columns"]["a"]["outcome"] == "differs"


def test_without_reference_the_overall_missing_limit_applies() -> None:
    _, cur = _frames(400, 2)
    cur.loc[:, "a"] = np.nan
    out = _run(None, cur)
    assert not out.checks[0].passed and "cells missing (limit 5%)" in out.checks[0].message


@pytest.mark.parametrize("old,new", [("max_ks", "numeric: {material"), ("max_tvd", "categorical: {material")])
def test_old_keys_name_the_new_ones(old: str, new: str) -> None:
    with pytest.raises(ValidationError, match=new):
        DataDistribution.model_validate({old: 0.1})


def test_per_column_override() -> None:
    ref, cur = _frames(2000, 3)
    cur["a"] = cur["a"] + 0.5
    assert _run(ref, cur, columns={"a": {"material": 0.5}}).checks[0].passed
    assert _run(ref, cur, columns={"a": {"enabled": False}}).checks[0].passed


def test_too_few_rows_is_a_visible_warning_not_a_pass_or_failure() -> None:
    ref, cur = _frames(400, 5)
    out = _run(ref, cur.iloc[:8])
    assert out.checks[0].passed
    warning = out.checks[1]
    assert warning.severity == "warning" and not warning.passed
    assert "too little data to decide" in warning.message and "at least 20 on each side" in warning.message


def test_columns_compared_on_two_threads_decide_as_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgate.data.distribution import FeatureDistribution
    from mlgate.stats import frames

    ref, cur = _frames(200_000, 11)
    cur = cur.assign(a=cur["a"] + 0.5)  # one shifted column among the clean ones
    settings = FeatureDistribution()
    assert len(ref) + len(cur) >= frames.PARALLEL_ROWS
    threaded = frames.compare_columns(ref, cur, list(ref.columns), settings)
    monkeypatch.setattr(frames, "PARALLEL_ROWS", 10**12)
    one_by_one = frames.compare_columns(ref, cur, list(ref.columns), settings)
    assert list(threaded) == list(one_by_one) == ["a", "b", "c", "g"]
    assert threaded == one_by_one
    assert threaded["a"].outcome == "differs" and threaded["b"].outcome == "same"
