"""Request validation: every rejection names its field; nothing unchecked reaches the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlgate.serve import schema as schema_module
from mlgate.serve.schema import Feature, InputError, InputSchema, NonFinite, kind_of_dtype, parse_json

SCHEMA = InputSchema([Feature("age", "integer"), Feature("charges", "number", nullable=True),
                      Feature("plan", "string"), Feature("paperless", "boolean")])
ROW = {"age": 30, "charges": 50.5, "plan": "basic", "paperless": True}


def reject(rows: list, status: int = 422, field: str | None = None, batch: bool = False) -> InputError:
    with pytest.raises(InputError) as info:
        SCHEMA.columns(rows, "features", batch, 100)
    assert info.value.status == status
    if field is not None:
        assert info.value.field == field
        assert field in info.value.message
    return info.value


@pytest.mark.parametrize("text", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}',
                                  b'{"a": ' + b"9" * 5000 + b"}"])
def test_non_finite_numbers_parse_to_a_marker(text: bytes) -> None:
    assert isinstance(parse_json(text)["a"], NonFinite)


@pytest.mark.parametrize("text", [
    b'{"features": [1, 2.5, -0.0, 1e-7, 1.7976931348623157e308, 5e-324, "x", true, null]}',
    b'{"a": 9223372036854775807, "b": -9223372036854775808}',
    b'{"a": 12345678901234567890123}',  # beyond 64 bits: an exact int, not orjson's float
    b'{"a": 0.12345678901234567890123}',
    b'{"a": "\\ud800"}',  # a lone surrogate: the standard library takes it, orjson does not
    b'\xef\xbb\xbf{"a": 1}',  # a byte-order mark: refused by both parsers
    b'{"a": 1, "a": 2}', b'[]', b'"text"', b'{"e": "\\u00e9", "k\\n": [[[{}]]]}',
])
def test_the_fast_parse_reads_what_the_standard_library_reads(text: bytes) -> None:
    """orjson parses plain bodies; the values (and their Python types) are those the standard
    library's decoder gives, and what it refuses gets the standard library's verdict."""
    def strict(body: bytes) -> Any:
        try:
            return ("ok", schema_module._DECODER.decode(body.decode("utf-8")))
        except ValueError:
            return ("400", None)

    try:
        got: Any = ("ok", parse_json(text))
    except InputError as exc:
        assert exc.status == 400
        got = ("400", None)
    want = strict(text)
    assert got == want
    assert repr(got) == repr(want)  # the same types: 1 stays an int, 2.5 a float


@pytest.mark.parametrize("text", [b"{", b"[1, 2", b"\xff\xfe", b"[" * 100_000, b""])
def test_malformed_bodies_are_400(text: bytes) -> None:
    with pytest.raises(InputError) as info:
        parse_json(text)
    assert info.value.status == 400
    assert info.value.reason == "malformed_json"


def test_valid_rows_become_typed_columns() -> None:
    cols = SCHEMA.columns([ROW, [31, None, "pro", 0]], "records", True, 100)
    assert cols["age"].dtype.kind == "i" and cols["age"].tolist() == [30, 31]
    assert cols["charges"].dtype.kind == "f" and cols["charges"][1] != cols["charges"][1]
    assert cols["plan"].tolist() == ["basic", "pro"]
    assert cols["paperless"].tolist() == [True, False]


@pytest.mark.parametrize(("row", "field"), [
    ({**ROW, "age": "30"}, "features.age"),
    ({**ROW, "age": 30.5}, "features.age"),
    ({**ROW, "age": True}, "features.age"),
    ({**ROW, "age": 2**70}, "features.age"),
    ({**ROW, "charges": "1"}, "features.charges"),
    ({**ROW, "charges": 10**400}, "features.charges"),
    ({**ROW, "charges": NonFinite("NaN")}, "features.charges"),
    ({**ROW, "plan": 3}, "features.plan"),
    ({**ROW, "plan": None}, "features.plan"),
    ({**ROW, "paperless": "yes"}, "features.paperless"),
    ({k: v for k, v in ROW.items() if k != "plan"}, "features.plan"),
    ({**ROW, "colour": "red"}, "features.colour"),
    ([30, 1.0, "basic"], "features"),
    ("a row", "features"),
])
def test_bad_rows_are_422_naming_the_field(row: object, field: str) -> None:
    reject([row], field=field)


def test_batch_errors_name_the_row() -> None:
    reject([ROW, {**ROW, "age": "x"}], field="features[1].age", batch=True)


def test_null_is_accepted_only_where_the_feature_is_nullable() -> None:
    SCHEMA.columns([{**ROW, "charges": None}], "features", False, 10)
    reject([{**ROW, "age": None}], field="features.age")


def test_row_limits() -> None:
    reject([], field="features")
    with pytest.raises(InputError, match="limit is 2"):
        SCHEMA.columns([ROW] * 3, "records", True, 2)


@pytest.mark.parametrize(("body", "n", "batch"), [
    ({"features": ROW}, 1, False),
    ({"features": list(ROW.values())}, 1, False),
    ({"features": [ROW, ROW]}, 2, True),
    ({"instances": [list(ROW.values())]}, 1, True),
    ({"records": [ROW, ROW, ROW]}, 3, True),
])
def test_predict_body_shapes(body: dict, n: int, batch: bool) -> None:
    rows, is_batch, field = SCHEMA.rows_from_predict(body)
    assert (len(rows), is_batch) == (n, batch)
    assert len(SCHEMA.columns(rows, field, is_batch, 10)["age"]) == n


@pytest.mark.parametrize("body", [[ROW], {"features": ROW, "records": [ROW]}, {"rows": [ROW]},
                                  {"records": ROW}])
def test_predict_body_shape_errors(body: object) -> None:
    with pytest.raises(InputError) as info:
        SCHEMA.rows_from_predict(body)
    assert info.value.status == 422


@pytest.mark.parametrize(("body", "hint"), [
    ({"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}}, "POST it to /invocations"),
    ({"dataframe_records": [ROW]}, "POST it to /invocations"),
    (ROW, 'for one row by name send {"features": {...}}'),
    ({"rows": [ROW]}, None),
])
def test_predict_says_what_a_body_of_another_shape_meant(body: dict, hint: str | None) -> None:
    """MLflow's format (the model folder's serving example) posted to /predict, or one row unwrapped."""
    with pytest.raises(InputError) as info:
        SCHEMA.rows_from_predict(body)
    assert (hint in str(info.value)) if hint else ("POST" not in str(info.value) and "send" not in str(info.value))


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}},
    {"dataframe_split": {"data": [list(ROW.values())]}},
    {"dataframe_records": [ROW]},
    {"instances": [ROW]},
    {"inputs": {k: [v] for k, v in ROW.items()}},
    {"inputs": ROW},
])
def test_mlflow_invocation_formats(body: dict) -> None:
    rows, field = SCHEMA.rows_from_invocations(body)
    cols = SCHEMA.columns(rows, field, True, 10)
    assert cols["plan"].tolist() == ["basic"]


@pytest.mark.parametrize("body", [{"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}},
                                  {"instances": [ROW], "inputs": [ROW]}, [ROW], {"foo": 1},
                                  {"inputs": {"age": [1, 2], "plan": ["a"]}}])
def test_mlflow_invocation_errors_are_400(body: object) -> None:
    with pytest.raises(InputError) as info:
        SCHEMA.rows_from_invocations(body)
    assert info.value.status == 400


@pytest.mark.parametrize(("dtype", "kind"), [("int64", "integer"), ("long", "integer"), ("float64", "number"),
                                             ("double", "number"), ("bool", "boolean"), ("str", "string"),
                                             ("object", "string"), ("datetime64[ns]", "any")])
def test_kind_of_dtype(dtype: str, kind: str) -> None:
    assert kind_of_dtype(dtype) == kind


def test_csv_cells_are_read_as_the_feature_kind() -> None:
    from mlgate.serve.schema import rows_from_csv

    body = b"age,charges,plan,paperless\n30,50.5,basic,true\n31,,pro,0\n"
    rows = rows_from_csv(body, SCHEMA)
    assert rows == [{"age": 30, "charges": 50.5, "plan": "basic", "paperless": True},
                    {"age": 31, "charges": None, "plan": "pro", "paperless": False}]
    SCHEMA.columns(rows, "csv", True, 10)


@pytest.mark.parametrize(("body", "field"), [(b"age,charges,plan,paperless\nx,1,a,true\n", "csv[0].age"),
                                             (b"age,charges,plan,paperless\n1,nan,a,true\n", "csv[0].charges"),
                                             (b"age,charges,plan,paperless\n1,2,a,maybe\n", "csv[0].paperless")])
def test_csv_bad_cells_name_the_field(body: bytes, field: str) -> None:
    from mlgate.serve.schema import rows_from_csv

    reject(rows_from_csv(body, SCHEMA), field=field.replace("csv[0]", "features[0]"), batch=True)


@pytest.mark.parametrize("body", [b"", b"age,charges\n1\n", b"\xff\xfe"])
def test_csv_shape_errors_are_400(body: bytes) -> None:
    from mlgate.serve.schema import rows_from_csv

    with pytest.raises(InputError) as info:
        rows_from_csv(body, SCHEMA)
    assert info.value.status == 400


# a model fitted on SCHEMA's features in another order, serving clients that send SCHEMA's order
SERVED = InputSchema([Feature("paperless", "boolean"), Feature("plan", "string"), Feature("age", "integer"),
                      Feature("charges", "number", nullable=True)]).with_list_order(SCHEMA.names)


@pytest.mark.parametrize("rows", [[[30, 50.5, "basic", True]], [[30, None, "basic", True]],
                                  [[30, 50.5, "basic", True], [41, 20.0, "pro", False]]], ids=["one", "null", "batch"])
def test_list_rows_in_the_served_order_reach_the_columns_named_rows_do(rows: list) -> None:
    named = [dict(zip(SCHEMA.names, row, strict=True)) for row in rows]
    listed, by_name = SERVED.columns(rows, "features", True, 10), SERVED.columns(named, "features", True, 10)
    assert list(listed) == ["paperless", "plan", "age", "charges"]  # the model's order
    for name in SERVED.names:
        np.testing.assert_array_equal(listed[name], by_name[name])  # NaN (a null) equals NaN here
        assert listed[name].dtype == by_name[name].dtype


def test_a_short_list_row_names_the_served_order_and_a_copy_keeps_it() -> None:
    with pytest.raises(InputError, match=r"expected 4 values in the served column order \(age, charges, plan, "
                                         r"paperless\), got 2"):
        SERVED.columns([[1, 2]], "features", False, 10)
    with pytest.raises(InputError, match=r"features.age: expected an integer, got string"):
        SERVED.columns([["x", 1.0, "basic", True]], "features", False, 10)
    assert SERVED.with_nullable({"age"}).list_names == SCHEMA.names
    with pytest.raises(ValueError, match="does not name the features"):
        SERVED.with_list_order(["age", "plan"])
