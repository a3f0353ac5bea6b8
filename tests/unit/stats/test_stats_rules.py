"""Corrections equal their references; decide gives differs / same / undecided with a readable reason."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from mlgate.stats import (
    DEFAULT_RULES,
    Comparison,
    Rule,
    adjust_p_values,
    compare_samples,
    decide,
    default_rule,
)


def _holm_reference(ps: list[float]) -> list[float]:
    """Holm by its definition: adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j))."""
    m = len(ps)
    order = np.argsort(ps, kind="stable")
    out = np.empty(m)
    for rank, i in enumerate(order):
        out[i] = max(min(1.0, (m - j) * ps[order[j]]) for j in range(rank + 1))
    return list(out)


@pytest.mark.parametrize("seed", range(5))
def test_holm_equals_its_definition(seed: int) -> None:
    ps = list(np.random.default_rng(seed).uniform(0, 0.2, size=12))
    assert adjust_p_values(ps, "holm") == pytest.approx(_holm_reference(ps), abs=1e-12)


def test_holm_known_values_and_none_passthrough() -> None:
    assert adjust_p_values([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    assert adjust_p_values([0.5, 0.9]) == [1.0, 1.0]
    assert adjust_p_values([None, float("nan")])[0] is None


@pytest.mark.parametrize("seed", range(5))
def test_bh_equals_scipy(seed: int) -> None:
    ps = list(np.random.default_rng(seed).uniform(0, 0.1, size=9))
    assert adjust_p_values(ps, "bh") == pytest.approx(list(false_discovery_control(ps)), abs=1e-12)


def test_unknown_correction_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="holm, bh, none"):
        adjust_p_values([0.1], "bonf")


def test_rule_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="alpha"):
        Rule("ks", alpha=1.5)
    with pytest.raises(ValueError, match="unknown comparison method"):
        Rule("kolmogorov")
    with pytest.raises(ValueError, match="min_n"):
        Rule("ks", min_n=0)
    assert Rule("ks").replace(alpha=0.05, material=None) == Rule("ks", alpha=0.05)


def test_default_rules_by_kind() -> None:
    assert default_rule("numeric").method == "ks"
    assert default_rule("categorical").method == "chi2"
    assert default_rule("proportion").method == "fisher"
    assert set(DEFAULT_RULES) >= {"numeric", "categorical", "prediction", "target"}
    with pytest.raises(ValueError, match="unknown column kind 'text'"):
        default_rule("text")


def test_decide_flags_a_shifted_column_and_passes_a_clean_one() -> None:
    rng = np.random.default_rng(3)
    ref = {f"x{i}": rng.normal(size=600) for i in range(5)}
    cur = {f"x{i}": rng.normal(size=200) for i in range(5)}
    cur["x2"] = cur["x2"] + 0.5
    comps = {c: compare_samples(ref[c], cur[c]) for c in ref}
    out = decide(comps, {c: default_rule("numeric") for c in ref})
    assert [c for c, d in out.items() if d.outcome == "differs"] == ["x2"]
    assert "after Holm over 5" in out["x2"].reason and "'x2'" in out["x2"].reason
    assert out["x0"].outcome == "same"
    assert out["x2"].adjusted_p is not None and out["x2"].adjusted_p >= comps["x2"].p_value  # type: ignore[operator]


def test_significant_but_immaterial_is_same() -> None:
    c = Comparison("ks", 0.02, 1e-9, 0.02, (1_000_000, 1_000_000))
    d = decide({"x": c}, {"x": default_rule("numeric")})["x"]
    assert d.outcome == "same" and "immaterial" in d.reason


def test_too_little_data_is_undecided_naming_the_n_needed() -> None:
    c = compare_samples(np.arange(50.0), np.arange(8.0) + 100)
    out = decide({"x": c, "y": None}, {"x": default_rule("numeric"), "y": default_rule("numeric")})
    assert out["x"].outcome == "undecided"
    assert "at least 20 on each side" in out["x"].reason and "8 current" in out["x"].reason
    assert out["y"].outcome == "undecided" and out["y"].comparison is None


def test_undecided_columns_do_not_enlarge_the_holm_family() -> None:
    big = Comparison("ks", 0.3, 0.004, 0.3, (100, 100))
    tiny = Comparison("ks", 0.9, 0.001, 0.9, (5, 5))
    out = decide({"a": big, "b": tiny}, {"a": default_rule("numeric"), "b": default_rule("numeric")})
    assert out["a"].adjusted_p == pytest.approx(0.004) and out["a"].outcome == "differs"


def test_distance_methods_decide_on_effect_alone() -> None:
    c = compare_samples(["a"] * 50 + ["b"] * 50, ["a"] * 20 + ["b"] * 80, "tvd")
    out = decide({"g": c}, {"g": Rule("tvd", material=0.2)})
    assert out["g"].outcome == "differs" and "material 0.2" in out["g"].reason


def test_missing_rule_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no decision rule for column 'x'"):
        decide({"x": Comparison("ks", 0.1, 0.5, 0.1, (30, 30))}, {})


def test_decision_to_dict_is_json_ready() -> None:
    import json

    c = compare_samples([float("nan")], [1.0])
    d = decide({"x": c}, {"x": default_rule("numeric")})["x"]
    json.dumps(d.to_dict(), allow_nan=False)
