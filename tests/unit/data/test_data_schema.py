"""Schema inference, the YAML round trip (infer, save, edit, load) and schema-file errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlgate.data.schema import infer_schema, load_schema, save_schema
from mlgate.data.table import TableView
from mlgate.data.validator import build_checks, validate_tables
from mlgate.errors import SchemaError
from mlgate.examples.churn import generate


def test_inference_on_churn(reference: pd.DataFrame) -> None:
    schema = infer_schema(reference, target="target")
    cols = schema.columns
    assert schema.keys == ["customer_id"]  # guessed: distinct, non-null, id-like pattern
    assert cols["customer_id"].dtype == "string" and cols["customer_id"].pattern == r"C\d+"
    assert cols["region"].dtype == "category" and cols["region"].categories == ["east", "north", "south", "west"]
    assert cols["senior_citizen"].dtype == "bool"
    # a float column stays float even when every value is whole; its bounds round outward
    assert cols["satisfaction_score"].dtype == "float" and cols["satisfaction_score"].nullable
    assert float(cols["satisfaction_score"].max).is_integer()
    assert 0.06 < cols["satisfaction_score"].max_null_share < 0.2
    assert not cols["age"].nullable and cols["age"].min == 0 and cols["age"].max >= 90
    assert cols["monthly_charges"].min >= 0  # never negative in the reference: stays so


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_fresh_clean_samples_never_fail(seed: int, reference: pd.DataFrame) -> None:
    schema = infer_schema(reference, target="target", keys=["customer_id"])
    sample = generate(3000, seed=seed)
    report = validate_tables([TableView(sample, "fresh", schema, "target", ["customer_id"])],
                             build_checks({}), min_score=0.99)
    assert report.passed, [c.message for c in report.failures]
    assert report.score is not None and report.score >= 0.99


def test_round_trip_infer_save_edit_load(tmp_path: Path, reference: pd.DataFrame) -> None:
    schema = infer_schema(reference, target="target", keys=["customer_id"])
    path = save_schema(schema, tmp_path / "schema.yaml", source="train.csv")
    text = path.read_text()
    assert text.startswith("# mlgate data schema") and "Inferred from train.csv" in text
    loaded = load_schema(path)
    assert loaded.columns == schema.columns and loaded.keys == schema.keys
    assert loaded.inferred is not None and loaded.inferred.rows == len(reference)
    assert loaded.inferred.source == "train.csv" and f"({len(reference):,} rows)" in text
    raw = yaml.safe_load(text)
    raw["columns"]["age"]["max"] = raw["columns"]["age"]["warn_max"] = 60
    raw["columns"]["region"]["categories"].remove("west")
    path.write_text(yaml.safe_dump(raw))
    edited = load_schema(path)
    assert edited.columns["age"].max == 60
    report = validate_tables([TableView(reference, "train", edited, "target", ["customer_id"])],
                             build_checks({}), min_score=0.5)
    failed = {(c.name, c.column) for c in report.failures}
    assert ("out_of_range", "age") in failed and ("unseen_categories", "region") in failed


@pytest.mark.parametrize(("body", "match"), [
    ("columns: [a, b\n", r"schema.yaml is not valid YAML at line 2"),
    ("- just\n- a list\n", r"must be a mapping with a 'columns' key \(got list\)"),
    ("columns:\n  age: {dtype: integer}\n", r"columns -> age -> dtype \(line 2\): must be one of"),
    ("columns:\n  age: {dtype: int, maxx: 3}\n", r"columns -> age -> maxx \(line 2\): unknown key"),
    ("columns:\n  id: {dtype: string, pattern: '(['}\n", r"pattern '\(\[' is not a regular expression"),
    ("columns:\n  age: {dtype: int, min: 9, max: 1}\n", r"min 9 is above max 1"),
    ("target: y\ncolumns:\n  age: {dtype: int}\n", r"'y' is named as key or target but is not under 'columns'"),
])
def test_bad_schema_files(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text(body)
    with pytest.raises(SchemaError, match=match):
        load_schema(path)


def test_missing_and_non_utf8_schema(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="does not exist"):
        load_schema(tmp_path / "nope.yaml")
    bad = tmp_path / "latin.yaml"
    bad.write_bytes("columns:\n  caf\xe9: {dtype: int}\n".encode("latin-1"))
    with pytest.raises(SchemaError, match="latin.yaml is not UTF-8"):
        load_schema(bad)


def test_a_table_always_fits_the_schema_inferred_from_it() -> None:
    import io

    import numpy as np

    flags = pd.read_csv(io.StringIO("b,c\nTrue,1\nFalse,2\n,3\nTrue,4\n"))["b"]  # object: bools + NaN
    frame = pd.DataFrame({
        "mixed": pd.Series([1, "a", 2.5, None] * 10, dtype=object),
        "when": pd.date_range("2020-01-01", periods=40),
        "empty": [np.nan] * 40,
        "flag": pd.Series(flags.tolist() * 10, dtype=object),
        "y": [0, 1] * 20,
    })
    schema = infer_schema(frame, target="y")
    assert {c: s.dtype for c, s in schema.columns.items()} == {
        "mixed": "category", "when": "datetime", "empty": "float", "flag": "bool", "y": "int"}
    report = validate_tables([TableView(frame, "t", schema, "y")], build_checks({}), min_score=0.0)
    assert report.passed
    assert [(c.name, c.column) for c in report.warnings] == [("constant_columns", "empty")]


def test_inferred_range_warns_just_past_and_errors_far_past() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 2, 1000), "n": rng.integers(1, 6, 1000)})
    spec = infer_schema(ref).columns
    x = spec["x"]
    assert x.dtype == "float" and x.min < x.warn_min < ref["x"].min() and x.max > x.warn_max > ref["x"].max()
    assert spec["n"].warn_min == 0 and spec["n"].min == 0  # never negative: 0 stays the floor
    new = pd.DataFrame({"x": [0.0, x.warn_max + 0.1, x.max + 1.0], "n": [1, 2, 3]})
    report = validate_tables([TableView(new, "new", infer_schema(ref))], build_checks({}), min_score=0.0)
    rows = [c for c in report.checks if c.name == "out_of_range" and not c.passed]
    assert [(c.severity, c.details["rows"]) for c in rows] == [("error", [2]), ("warning", [1])]
    assert "just past the usual range" in rows[1].message
    assert report.metrics["invalid_cells"] == 1  # the warning is not counted in the score


def test_long_tailed_categories_and_new_nulls_are_warnings() -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    levels = [f"L{i}" for i in range(30)]
    p = 1 / np.arange(1, 31) ** 1.5
    ref = pd.DataFrame({"c": rng.choice(levels, 2000, p=p / p.sum()), "two": rng.choice(["a", "b"], 2000),
                        "x": rng.normal(size=2000)})
    schema = infer_schema(ref)
    assert schema.columns["c"].on_unseen == "warning" and schema.columns["two"].on_unseen is None
    new = pd.DataFrame({"c": ["L0", "NEW"], "two": ["a", "z"], "x": [0.0, np.nan]})
    report = validate_tables([TableView(new, "new", schema)], build_checks({}), min_score=0.0)
    sev = {(c.name, c.column): c.severity for c in report.checks if not c.passed}
    assert sev[("unseen_categories", "c")] == "warning" and sev[("unseen_categories", "two")] == "error"
    assert sev[("nulls_in_non_nullable", "x")] == "warning"


def test_warn_bounds_must_lie_inside_the_error_bounds(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  x: {dtype: float, min: 0, warn_min: -1}\n")
    with pytest.raises(SchemaError, match="warn_min -1 is below min 0"):
        load_schema(path)
