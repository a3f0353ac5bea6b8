"""Validate's distribution checks decide through mlgate.stats: significant AND material, Holm, undecided."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgate.data.schema import infer_schema
from mlgate.data.table import TableView
from mlgate.data.validator import build_checks
from mlgate.errors import ConfigError


def _tables(n: int, seed: int, shift: float = 0.0) -> tuple[TableView, TableView]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(6)})
    frame["grade"] = rng.choice(list("ABCDE"), size=n, p=[0.4, 0.3, 0.2, 0.07, 0.03])
    frame["target"] = rng.integers(0, 2, size=n)
    cut = int(n * 0.75)
    train, test = frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)
    test["x3"] = test["x3"] + shift
    schema = infer_schema(train, target="target")
    return TableView(train, "train", schema, "target"), TableView(test, "test", schema, "target")


def _run(name: str, train: TableView, test: TableView, settings: dict | None = None):  # type: ignore[no-untyped-def]
    check = next(c for c in build_checks({name: settings or {}}) if c.name == name)
    return check.run_pair(train, test)


def test_one_sd_shift_is_flagged_naming_the_column() -> None:
    rows = _run("feature_distribution", *_tables(800, 1, shift=1.0))
    failed = [r for r in rows if not r.passed]
    assert [r.column for r in failed] == ["x3"]
    assert "Holm over 7" in failed[0].message and failed[0].severity == "error"
    assert failed[0].details["comparison"]["method"] == "ks"


@pytest.mark.parametrize("seed", range(8))
def test_clean_splits_pass(seed: int) -> None:
    for name in ("feature_distribution", "target_distribution"):
        rows = _run(name, *_tables(400, seed))
        assert all(r.passed for r in rows), [r.message for r in rows if not r.passed]


def test_a_column_can_be_disabled_or_given_its_own_rule() -> None:
    tables = _tables(800, 1, shift=1.0)
    rows = _run("feature_distribution", *tables, {"columns": {"x3": {"enabled": False}}})
    assert "x3" not in {r.column for r in rows} and all(r.passed for r in rows)
    rows = _run("feature_distribution", *tables, {"columns": {"x3": {"material": 0.9}}})
    assert all(r.passed for r in rows)
    rows = _run("feature_distribution", *tables, {"numeric": {"method": "wasserstein", "material": 0.5}})
    x3 = next(r for r in rows if r.column == "x3")
    assert not x3.passed and "Wasserstein/IQR" in x3.message


def test_too_few_rows_is_a_warning_naming_the_n_needed() -> None:
    train, test = _tables(40, 2)  # 10 test rows
    rows = _run("feature_distribution", train, test)
    assert rows and all(r.severity == "warning" and not r.passed for r in rows)
    assert "needs at least 20 on each side" in rows[0].message
    target = _run("target_distribution", train, test)[0]
    assert target.severity == "warning" and "too little data" in target.message


@pytest.mark.parametrize("old", ["max_distance", "max_ks"])
def test_old_fixed_limit_keys_are_config_errors_naming_the_new_key(old: str) -> None:
    with pytest.raises(ConfigError, match=f"'{old}' is no longer a fixed limit: use 'material'"):
        build_checks({"target_distribution": {old: 0.1}})


def test_bad_rule_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="feature_distribution -> numeric -> method"):
        build_checks({"feature_distribution": {"numeric": {"method": "kolmogorov"}}})
    with pytest.raises(ConfigError, match="alpha"):
        build_checks({"feature_distribution": {"alpha": 2}})


def test_a_column_entirely_missing_in_one_table_is_undecided_not_a_crash() -> None:
    train, test = _tables(400, 3)
    test.frame["x0"] = np.nan
    rows = {r.column: r for r in _run("feature_distribution", train, test)}
    assert rows["x0"].severity == "warning" and "no non-missing current values" in rows["x0"].message


def test_constant_column_is_same() -> None:
    train, test = _tables(400, 4)
    train.frame["x1"], test.frame["x1"] = 1.0, 1.0
    rows = {r.column: r for r in _run("feature_distribution", train, test)}
    assert rows["x1"].passed
