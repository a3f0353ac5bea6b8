"""The one-row fast path of validation gives the value-by-value path's verdict on every row."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from mlgate.serve.schema import Feature, InputError, InputSchema, NonFinite

SCHEMA = InputSchema([Feature("age", "integer"), Feature("charges", "number", nullable=True),
                      Feature("plan", "string"), Feature("paperless", "boolean"), Feature("tenure", "integer"),
                      Feature("score", "number")])
# Per kind: valid values and the edges where a vectorised check could disagree with the checked one.
EDGES: list[Any] = [0, 1, -1, 30, 2**63 - 1, 2**63, -(2**63), -(2**63) + 1, 10**400, int(1.7976931348623157e308),
                    int(1.7976931348623157e308) + 1, 10**300, 0.0, 30.0, 30.5, -2.5, 1e308, 1.7976931348623157e308,
                    math.nan, math.inf, -math.inf, True, False, None, "", "basic", "30", NonFinite("NaN"),
                    NonFinite("1e400"), [1], {"a": 1}]


def outcome(call: Any, row: Any) -> Any:
    try:
        cols = call([row])
    except InputError as exc:
        return ("error", exc.status, exc.message, exc.field, exc.reason)
    return {k: (v.dtype.str, [None if isinstance(x, float) and x != x else x for x in v.tolist()])
            for k, v in cols.items()}


def random_row(rng: random.Random) -> Any:
    good = [30, 50.5, "basic", True, 12, 0.25]
    row: list[Any] = [rng.choice(EDGES) if rng.random() < 0.2 else v for v in good]
    shape = rng.random()
    if shape < 0.45:
        return row
    named = dict(zip(SCHEMA.names, row, strict=True))
    if shape < 0.55:
        named.pop(rng.choice(SCHEMA.names))
    elif shape < 0.6:
        named["colour"] = "red"
    elif shape < 0.65:
        return row[:rng.randrange(len(row))]
    return named


def test_fast_and_checked_paths_agree_on_random_rows() -> None:
    rng = random.Random(16)
    fast_answers = 0
    for _ in range(5000):
        row = random_row(rng)
        fast_answers += SCHEMA._one_row.columns(row) is not None
        got = outcome(lambda rows: SCHEMA.columns(rows, "features", False, 10), row)
        want = outcome(lambda rows: SCHEMA._checked_columns(rows, "features", False), row)
        assert got == want, row
    assert fast_answers > 1000  # the fast path did answer: this test compares two paths


@pytest.mark.parametrize("value", [2**63, -(2**63), 10**400, 30.0, True, None, NonFinite("NaN")])
def test_integer_edges_leave_the_verdict_to_the_checked_path(value: Any) -> None:
    row = [value, 50.5, "basic", True, 12, 0.25]
    assert SCHEMA._one_row.columns(row) is None


@pytest.mark.parametrize("value", [int(1.7976931348623157e308) + 1, 10**400, math.nan, math.inf, True, None, "1"])
def test_number_edges_leave_the_verdict_to_the_checked_path(value: Any) -> None:
    row = [30, value, "basic", True, 12, 0.25]
    assert SCHEMA._one_row.columns(row) is None


def test_fast_columns_are_typed_like_the_checked_ones() -> None:
    cols = SCHEMA.columns([[30, 50, "basic", False, 12, 0.25]], "features", False, 10)
    assert cols["age"].dtype == np.int64 and cols["charges"].dtype == np.float64
    assert cols["plan"].dtype == object and cols["paperless"].dtype == bool
    assert [len(v) for v in cols.values()] == [1] * 6 and cols["charges"].tolist() == [50.0]
