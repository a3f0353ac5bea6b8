"""Each data check on small data: an injected fault is caught by the right check and column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlgate.data.checks import DATA_CHECKS, DataCheck
from mlgate.data.schema import Schema
from mlgate.data.table import TableView
from mlgate.data.validator import build_checks, validate_tables
from mlgate.errors import ConfigError
from mlgate.reports.model import Check, Report


def run(frame: pd.DataFrame, schema: Schema, reference: pd.DataFrame | None = None,
        settings: dict[str, Any] | None = None, min_score: float = 0.9) -> Report:
    test = TableView(frame, "test", schema, "target", ["customer_id"])
    pair = (TableView(reference, "train", schema, "target", ["customer_id"]), test) \
        if reference is not None else None
    return validate_tables([test], build_checks(settings), min_score=min_score, pair=pair)


def failed(report: Report, name: str) -> list[Check]:
    return [c for c in report.checks if c.name == name and not c.passed]


def _set(frame: pd.DataFrame, column: str, rows: list[int], value: Any) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].astype(object)
    out.loc[rows, column] = value
    return out


def _with_dtype_fault(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out["age"] = out["age"].astype(str)
    out.loc[3, "age"] = "abc"
    return out


def _nulls_age(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out["age"] = out["age"].astype(float)
    out.loc[[3, 9], "age"] = np.nan
    return out


def _null_ratio(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[::2], "satisfaction_score"] = np.nan
    return out


def _hole_in_age(f: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """40% of a column the reference had complete goes missing."""
    out = f.copy()
    out["age"] = out["age"].astype(float)
    out.loc[out.index[np.arange(len(out)) % 5 < 2], "age"] = np.nan
    return out


def _out_of_range(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[5, "age"] = 500
    return out


def _duplicate_keys(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[1, "customer_id"] = out.loc[0, "customer_id"]
    return out


def _target_nulls(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out["target"] = out["target"].astype(float)
    out.loc[[2, 4], "target"] = np.nan
    return out


def _imbalanced(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out["target"] = 0
    out.loc[out.index[:20], "target"] = 1
    return out


def _shifted_target(f: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[: len(out) // 2], "target"] = 1
    return out


def _shifted_charges(f: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out["monthly_charges"] = out["monthly_charges"] + ref["monthly_charges"].std()
    return out


def _leaked(f: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    copied = ref.iloc[[10, 20, 30]].copy()
    copied["customer_id"] = ["C900001", "C900002", "C900003"]  # new ids: leakage ignores keys
    return pd.concat([f, copied], ignore_index=True)


# check name -> (fault, column the check must name or None, extra settings, needs reference)
FAULTS: dict[str, tuple[Callable[..., pd.DataFrame], str | None, dict[str, Any], bool]] = {
    "missing_columns": (lambda f: f.drop(columns=["age"]), "age", {}, False),
    "unexpected_columns": (lambda f: f.assign(extra=1.0), "extra", {}, False),
    "dtype_mismatch": (_with_dtype_fault, "age", {}, False),
    "nulls_in_non_nullable": (_nulls_age, "age", {}, False),
    "null_ratio": (_null_ratio, "satisfaction_score", {}, False),
    "null_share": (_hole_in_age, "age", {}, True),
    "out_of_range": (_out_of_range, "age", {}, False),
    "unseen_categories": (lambda f: _set(f, "region", [7], "mars"), "region", {}, False),
    "pattern_mismatch": (lambda f: _set(f, "customer_id", [4], "X-1"), "customer_id", {}, False),
    "duplicate_rows": (lambda f: pd.concat([f, f.iloc[:15]], ignore_index=True), None, {}, False),
    "duplicate_keys": (_duplicate_keys, "customer_id", {}, False),
    "constant_columns": (lambda f: f.assign(region="north"), "region", {}, False),
    "target_missing": (_target_nulls, "target", {}, False),
    "target_single_class": (lambda f: f.assign(target=0), "target", {}, False),
    "class_imbalance": (_imbalanced, "target", {}, False),
    "row_count": (lambda f: f, None, {"row_count": {"min": 10_000}}, False),
    "train_test_leakage": (_leaked, None, {}, True),
    "target_distribution": (_shifted_target, "target", {}, True),
    "feature_distribution": (_shifted_charges, "monthly_charges", {}, True),
}


def test_every_check_has_a_fault_case() -> None:
    assert set(FAULTS) == set(DATA_CHECKS)


def test_clean_sample_passes(fresh: pd.DataFrame, schema: Schema, reference: pd.DataFrame) -> None:
    report = run(fresh, schema, reference)
    assert report.passed, [c.message for c in report.failures]
    assert not report.warnings, [c.message for c in report.warnings]
    assert report.score is not None and report.score >= 0.99
    assert {c.name for c in report.checks} >= set(DATA_CHECKS)


@pytest.mark.parametrize("name", list(FAULTS))
def test_injected_fault_is_caught(name: str, fresh: pd.DataFrame, schema: Schema,
                                  reference: pd.DataFrame) -> None:
    fault, column, settings, pair = FAULTS[name]
    frame = fault(fresh, reference) if pair else fault(fresh)
    report = run(frame, schema, reference if pair else None, settings)
    hits = failed(report, name)
    assert hits, f"{name} did not fire"
    assert hits[0].column == column
    assert hits[0].message.startswith("test: ")
    blocking = DATA_CHECKS[name]().level == "error" and name not in INFERRED_WARNINGS
    assert report.passed is not blocking
    assert hits[0].severity == ("warning" if name in INFERRED_WARNINGS else DATA_CHECKS[name]().level)


# an inferred schema's "no nulls in the reference" is a warning (the schema file can say error)
INFERRED_WARNINGS = {"nulls_in_non_nullable"}


def test_schema_can_make_nulls_an_error(fresh: pd.DataFrame, schema: Schema) -> None:
    strict = schema.model_copy(deep=True)
    strict.columns["age"].on_null = "error"
    hits = failed(run(_nulls_age(fresh), strict), "nulls_in_non_nullable")
    assert hits and hits[0].severity == "error"


@pytest.mark.parametrize("name", [n for n, c in DATA_CHECKS.items() if c().level == "error"])
def test_error_check_configured_as_warning_does_not_block(name: str, fresh: pd.DataFrame,
                                                          schema: Schema, reference: pd.DataFrame) -> None:
    fault, _, settings, pair = FAULTS[name]
    frame = fault(fresh, reference) if pair else fault(fresh)
    settings = {**settings, name: {**settings.get(name, {}), "severity": "warning"}}
    if name in INFERRED_WARNINGS:
        return
    if name == "target_single_class":  # a single class also shifts the target distribution
        settings["target_distribution"] = {"enabled": False}
    report = run(frame, schema, reference if pair else None, settings)
    assert failed(report, name) and report.passed


def test_failing_rows_are_sampled_with_row_numbers(fresh: pd.DataFrame, schema: Schema) -> None:
    report = run(_out_of_range(fresh), schema)
    check = failed(report, "out_of_range")[0]
    assert check.details["rows"] == [5] and check.details["values"] == [500]
    assert check.observed[1] == 500 and check.expected == [schema.columns["age"].min,
                                                           schema.columns["age"].max]
    unseen = failed(run(_set(fresh, "region", [7, 8], "mars"), schema), "unseen_categories")[0]
    assert unseen.observed == ["mars"] and unseen.details["rows"] == [7, 8]
    assert "1 unseen category 'mars' in 2 rows" in unseen.message


def test_leakage_names_train_and_test_rows(fresh: pd.DataFrame, schema: Schema,
                                           reference: pd.DataFrame) -> None:
    check = failed(run(_leaked(fresh, reference), schema, reference), "train_test_leakage")[0]
    n = len(fresh)
    assert check.observed == 3 and check.details["rows"] == [n, n + 1, n + 2]
    assert check.details["train_rows"] == [10, 20, 30]


def test_leakage_matches_across_int_and_float_columns(fresh: pd.DataFrame, schema: Schema,
                                                      reference: pd.DataFrame) -> None:
    leaked = _leaked(fresh, reference)
    leaked["age"] = leaked["age"].astype(float)  # as a CSV with a missing age would load it
    assert failed(run(leaked, schema, reference), "train_test_leakage")[0].observed == 3


def test_regression_target_uses_ks(schema: Schema) -> None:
    rng = np.random.default_rng(0)
    spec = Schema.model_validate({"target": "y", "columns": {"y": {"dtype": "float"}}})
    train = pd.DataFrame({"y": rng.normal(0, 1, 3000)})
    same, shifted = pd.DataFrame({"y": rng.normal(0, 1, 1000)}), pd.DataFrame({"y": rng.normal(1, 1, 1000)})
    views = lambda test: (TableView(train, "train", spec, "y"), TableView(test, "test", spec, "y"))  # noqa: E731
    check = DATA_CHECKS["target_distribution"]()
    assert check.run_pair(*views(same))[0].passed
    bad = check.run_pair(*views(shifted))[0]
    assert not bad.passed and "KS distance" in bad.message and "target 'y' vs train" in bad.message


def test_quality_score_formula() -> None:
    spec = Schema.model_validate({"columns": {"a": {"dtype": "float", "min": 0, "max": 10},
                                              "b": {"dtype": "float"}}})
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4, 50, 6, 7, 8, 9, np.nan], "b": np.arange(10.0)})
    report = validate_tables([TableView(frame, "t", spec)], build_checks({}), min_score=0.5)
    # 20 cells: 1 missing + 1 out of range -> 18/20
    assert report.score == pytest.approx(0.9)
    assert report.metrics["completeness"] == pytest.approx(0.95)
    assert report.metrics["validity"] == pytest.approx(0.95)
    assert report.key_figure == "quality 0.900, 1 errors, 0 warnings"
    low = validate_tables([TableView(frame, "t", spec)], build_checks({"out_of_range": {"enabled": False}}),
                          min_score=0.99)
    assert [c.name for c in low.failures] == ["quality_score"]


def test_default_severities() -> None:
    errors = {n for n, c in DATA_CHECKS.items() if c().level == "error"}
    assert errors == {"missing_columns", "dtype_mismatch", "nulls_in_non_nullable", "out_of_range",
                      "unseen_categories", "pattern_mismatch", "target_missing",
                      "target_single_class", "train_test_leakage", "target_distribution",
                      "feature_distribution", "null_share",
                      "row_count"}


def test_unknown_check_and_bad_setting_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="out_of_rnage: unknown data check 'out_of_rnage' .did you mean "
                                          "'out_of_range'.*choose from missing_columns"):
        build_checks({"out_of_rnage": {}})
    with pytest.raises(ConfigError, match="class_imbalance -> max_ratio: .*got 0.5"):
        build_checks({"class_imbalance": {"max_ratio": 0.5}})
    with pytest.raises(ConfigError, match="duplicate_rows -> max_shar: unknown key"):
        build_checks({"duplicate_rows": {"max_shar": 0.1}})


# Conformance: every check in the table behaves the same way.

@pytest.mark.parametrize("cls", list(DATA_CHECKS.values()), ids=list(DATA_CHECKS))
def test_check_conformance(cls: type[DataCheck], fresh: pd.DataFrame, schema: Schema,
                           reference: pd.DataFrame) -> None:
    assert cls.name.isidentifier() and cls.name == cls.name.lower()
    assert cls.__doc__ and cls.__doc__.strip()
    assert cls().level in ("error", "warning")
    assert cls(severity="warning").level == "warning"
    with pytest.raises(ValidationError):
        cls.model_validate({"no_such_setting": 1})
    test = TableView(fresh, "test", schema, "target", ["customer_id"])
    train = TableView(reference, "train", schema, "target", ["customer_id"])
    results = cls().run_pair(train, test) if cls.pair else cls().run(test)
    assert results, f"{cls.name} returned nothing on a clean table"
    for r in results:
        assert isinstance(r, Check) and r.name == cls.name and r.passed, r.message
        assert r.message and r.details["table"] == "test"


def test_table_lists_every_check_class() -> None:
    def subclasses(c: type) -> set[type]:
        return set(c.__subclasses__()).union(*(subclasses(s) for s in c.__subclasses__()))

    assert subclasses(DataCheck) == set(DATA_CHECKS.values())
    assert len({c.name for c in DATA_CHECKS.values()}) == len(DATA_CHECKS)


def test_dtype_mismatch_counts_only_values_that_do_not_parse(fresh: pd.DataFrame, schema: Schema) -> None:
    check = failed(run(_with_dtype_fault(fresh), schema), "dtype_mismatch")[0]
    assert check.observed == "string" and check.expected == "int"
    assert check.details["count"] == 1 and check.details["rows"] == [3] and check.details["values"] == ["abc"]
    assert "e.g. 'abc' in row 3" in check.message


def _hole_tables(missing: int) -> tuple[TableView, TableView]:
    """15,000 reference rows without a null; 5,000 test rows with ``missing`` of 'income' missing."""
    from mlgate.data.schema import infer_schema

    rng = np.random.default_rng(4)
    train = pd.DataFrame({"income": rng.normal(50, 10, 15_000), "target": rng.integers(0, 2, 15_000)})
    test = pd.DataFrame({"income": rng.normal(50, 10, 5_000), "target": rng.integers(0, 2, 5_000)})
    test.loc[test.index[:missing], "income"] = np.nan
    schema = infer_schema(train, target="target")
    assert not schema.columns["income"].nullable and schema.columns["income"].on_null == "warning"
    return TableView(train, "train", schema, "target"), TableView(test, "test", schema, "target")


def test_an_explicit_null_ratio_rule_holds_for_a_column_without_nulls_in_train() -> None:
    train, test = _hole_tables(2_000)
    settings = {"null_ratio": {"max_share": 0.2, "severity": "error"}, "null_share": {"enabled": False}}
    report = validate_tables([test], build_checks(settings), min_score=0.5, pair=(train, test))
    hits = [c for c in report.failures if c.name == "null_ratio"]
    assert hits and hits[0].column == "income" and "40.00% missing (limit 20.00%)" in hits[0].message


def test_a_hole_fails_by_default_and_stray_nulls_only_warn() -> None:
    train, test = _hole_tables(2_000)
    report = validate_tables([test], build_checks({}), min_score=0.5, pair=(train, test))
    hole = [c for c in report.failures if c.name == "null_share"]
    assert hole and hole[0].column == "income", [c.message for c in report.failures]
    assert "40.00% missing vs 0.00% in train" in hole[0].message and "differs" in hole[0].message
    train, test = _hole_tables(3)
    report = validate_tables([test], build_checks({}), min_score=0.5, pair=(train, test))
    assert report.passed, [c.message for c in report.failures]
    warned = {c.name for c in report.warnings}
    assert "nulls_in_non_nullable" in warned and "null_share" not in warned
