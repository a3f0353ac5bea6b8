"""The console's verdict lines: alike checks of many columns as one line; the report keeps them all."""

from __future__ import annotations

from mlgate.cli._common import grouped_lines
from mlgate.reports.model import Check


def _skipped(column: str, n: int = 16) -> Check:
    return Check(name="feature_distribution", passed=True, severity="warning", column=column,
                 message=f"test.csv: skipped: {column!r}: too little data to decide: 47 reference and {n} current "
                         "values, chi2 needs at least 20 on each side")


def test_alike_warnings_of_many_columns_print_as_one_line() -> None:
    checks = [_skipped(c) for c in ("a", "b", "c", "d", "e")] + [_skipped("f", n=15)]
    lines = grouped_lines(checks)
    assert lines == [
        ("feature_distribution", "test.csv: skipped: 'a': too little data to decide: 47 reference and 16 "
                                 "current values, chi2 needs at least 20 on each side (the same for 'b', 'c', "
                                 "'d' and 1 more)"),
        ("feature_distribution", "test.csv: skipped: 'f': too little data to decide: 47 reference and 15 current "
                                 "values, chi2 needs at least 20 on each side")]


def test_two_alike_lines_checks_without_a_column_and_other_messages_print_as_they_are() -> None:
    plain = Check(name="duplicate_rows", passed=False, severity="error", message="3 duplicate rows")
    checks = [_skipped("a"), plain, _skipped("b"), plain]
    dup = ("duplicate_rows", "3 duplicate rows")
    assert grouped_lines(checks) == [("feature_distribution", _skipped("a").message), dup,
                                     ("feature_distribution", _skipped("b").message), dup]
    assert grouped_lines([_skipped(c) for c in "abc"])[0][1].endswith("side (the same for 'b', 'c')")


def test_a_grouped_line_keeps_its_grammar() -> None:
    """Listing the columns inside the message read "'a', 'b', 'c' and 2 more is constant"."""
    checks = [Check(name="constant_columns", passed=True, severity="warning", column=c,
                    message=f"test: {c!r} is constant") for c in ("p0", "p1", "p2", "p3", "p4")]
    assert grouped_lines(checks) == [("constant_columns",
                                      "test: 'p0' is constant (the same for 'p1', 'p2', 'p3' and 1 more)")]
