"""The false-alarm benchmark's machinery on a few seeds: its tables, scenarios and gates stay runnable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[3] / "benchmarks" / "false_alarms.py"


@pytest.fixture(scope="module")
def fa():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("false_alarms", PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["false_alarms"] = module
    spec.loader.exec_module(module)
    return module


def test_scenarios_change_only_what_they_say(fa) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    train, test = fa.split(fa.table(4000, rng), rng)
    assert len(test) == 1000 and len(train) == 3000
    moved = fa.shifted(test, "category +10 pt", rng)
    share = (moved["cat10"] == "L01").mean() - (test["cat10"] == "L01").mean()
    assert 0.07 < share < 0.13
    assert (fa.shifted(test, "mean +0.5 sd", rng)["normal"] - test["normal"]).round(9).eq(0.5).all()
    assert moved.drop(columns="cat10").equals(test.drop(columns="cat10"))


def test_a_small_cell_runs_every_gate_and_catches_a_half_sd_shift(fa) -> None:  # type: ignore[no-untyped-def]
    result = fa.cell(2000, 1, fa.GATES)
    for gate in fa.GATES:
        assert result["fail_rate"][gate]["mean +0.5 sd"] == 1.0
        assert result["named_rate"][gate]["mean +0.5 sd"] == 1.0
    assert "| validate | 2,000 | 1 / 1 |" in fa.markdown([result])


def test_the_messy_table_is_as_messy_as_it_says(fa) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    frame = fa.messy(4000, rng)
    levels = {c: frame[c].nunique() for c in ("plan", "region", "city")}
    assert levels == {"plan": 2, "region": 10, "city": 50}
    missing = frame.isna().mean()
    assert abs(missing["income"] - 0.02) < 0.01 and abs(missing["region"] - 0.10) < 0.02
    assert abs(missing["visits"] - 0.30) < 0.03 and missing["age"] == 0
    assert frame["name"].nunique() > 0.95 * len(frame)  # near-unique
    assert frame["signup_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert frame["visits"].max() > 10 * frame["visits"].median()  # a long tail of counts
    train, test = fa.split(frame, rng)
    holed = fa.shifted(test, "age 40% missing", rng)
    assert 0.35 < holed["age"].isna().mean() < 0.45
    result = fa.cell(1000, 1, ("validate",), kind="messy")
    assert result["fail_rate"]["validate"]["age 40% missing"] == 1.0
    assert result["named_rate"]["validate"]["age 40% missing"] == 1.0
