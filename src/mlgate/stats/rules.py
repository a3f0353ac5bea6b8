"""Decision rules: significant (after correction across a gate's columns) AND material, with enough data.

The defaults are claims about error rates, measured by ``benchmarks/false_alarms.py`` (see docs/stats.md):
with Holm's correction the chance that a gate flags any column of a clean i.i.d. split is at most alpha
(by construction, and measured), and the materiality floor keeps trivial differences at large n quiet.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mlgate.plugins import table
from mlgate.stats.comparison import Comparison, differs
from mlgate.stats.correction import adjust_p_values

Outcome = Literal["differs", "same", "undecided"]


@dataclass(frozen=True)
class Rule:
    """A gate's decision rule for one column: which method, at what alpha, how large is material,
    and how many non-missing rows each side needs before the rule decides at all."""

    method: str
    alpha: float = 0.01
    material: float = 0.1
    min_n: int = 20

    def __post_init__(self) -> None:
        methods = table("methods")  # imported on first use: numpy stays out of the config's import
        if self.method not in methods:
            raise ValueError(methods.unknown(self.method, "comparison method"))
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1 (got {self.alpha})")
        if not self.material >= 0:
            raise ValueError(f"material must be >= 0 (got {self.material})")
        if self.min_n < 1:
            raise ValueError(f"min_n must be >= 1 (got {self.min_n})")

    def replace(self, **changes: object) -> Rule:
        """This rule with some fields changed (None values are ignored, so config overrides pass straight in)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


# Why these numbers: alpha 0.01 with Holm keeps a gate's false-alarm rate at or below 1% however
# many columns it compares. A KS distance of 0.05 is a 0.125 sd mean shift of a normal column (a
# 0.25 sd shift is D = 0.10, 0.5 sd is D = 0.20); a share distance of 0.05 is a 5-point move of one
# category's share. Below those, a difference is real only at large n and rarely matters.
DEFAULT_RULES: dict[str, Rule] = {
    "numeric": Rule("ks", alpha=0.01, material=0.05, min_n=20),
    "categorical": Rule("chi2", alpha=0.01, material=0.05, min_n=20),
    "target": Rule("chi2", alpha=0.01, material=0.05, min_n=20),  # class shares of a classification target
    "prediction": Rule("ks", alpha=0.01, material=0.1, min_n=30),  # model scores (monitor, canary)
    "proportion": Rule("fisher", alpha=0.01, material=0.01, min_n=100),  # error rates (canary)
    "latency": Rule("mannwhitney", alpha=0.01, material=0.1, min_n=30),
    # a column's missing share against the reference's (validate's null_share, test's data_distribution)
    "missing": Rule("fisher", alpha=0.005, material=0.05, min_n=20),
    # per-row prediction changes under noise, the model's against a linear reference's (robustness)
    "robustness": Rule("paired_t", alpha=0.01, material=0.05, min_n=30),
}


def default_rule(kind: str) -> Rule:
    """The calibrated default rule for a column kind (numeric, categorical, target, prediction, proportion, latency)."""
    try:
        return DEFAULT_RULES[kind]
    except KeyError:
        raise ValueError(f"unknown column kind {kind!r} (choose from {', '.join(DEFAULT_RULES)})") from None


@dataclass(frozen=True)
class Decision:
    """The verdict on one column, with the sentence a report shows."""

    column: str
    comparison: Comparison | None
    adjusted_p: float | None
    outcome: Outcome
    reason: str
    rule: Rule | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for report.json."""
        return {"column": self.column, "outcome": self.outcome, "reason": self.reason,
                "adjusted_p": None if self.adjusted_p is None or math.isnan(self.adjusted_p) else self.adjusted_p,
                "comparison": self.comparison.to_dict() if self.comparison else None,
                "rule": dataclasses.asdict(self.rule) if self.rule else None}


def decide(comparisons: Mapping[str, Comparison | None], rules: Mapping[str, Rule],
           correction: str = "holm") -> dict[str, Decision]:
    """Decide every column: undecided when a side has fewer than the rule's ``min_n`` values (or no
    comparison), else "differs" when the p-value, corrected across the decided columns, is below the
    rule's alpha and the effect reaches its materiality floor, else "same".

    A column without its own rule uses the rule's default for its method's kind: give ``rules`` for
    every column (``default_rule`` helps).
    """
    decidable: dict[str, Comparison] = {
        c: cmp for c, cmp in comparisons.items()
        if cmp is not None and min(cmp.n) >= _rule(rules, c).min_n and not math.isnan(cmp.effect)}
    names = list(decidable)
    adjusted = dict(zip(names, adjust_p_values([decidable[c].p_value for c in names], correction), strict=True))
    family = sum(1 for c in names if decidable[c].p_value is not None)
    out: dict[str, Decision] = {}
    for column, given in comparisons.items():
        rule = _rule(rules, column)
        if column not in decidable:
            out[column] = Decision(column, given, None, "undecided", _too_little(column, given, rule), rule)
            continue
        cmp, p = decidable[column], adjusted[column]
        verdict = differs(cmp, alpha=rule.alpha, material=rule.material, p_value=p)
        out[column] = Decision(column, cmp, p, "differs" if verdict else "same",
                               _sentence(column, cmp, p, rule, correction, family, verdict), rule)
    return out


def _rule(rules: Mapping[str, Rule], column: str) -> Rule:
    try:
        return rules[column]
    except KeyError:
        raise ValueError(f"no decision rule for column {column!r}") from None


def _too_little(column: str, cmp: Comparison | None, rule: Rule) -> str:
    if cmp is None:
        return f"{column!r}: not compared (no usable values), undecided"
    if min(cmp.n) == 0:
        side = "reference" if cmp.n[0] == 0 else "current"
        return f"{column!r}: not compared: no non-missing {side} values ({cmp.n[0]} reference, {cmp.n[1]} current)"
    return (f"{column!r}: too little data to decide: {cmp.n[0]} reference and {cmp.n[1]} current values, "
            f"{rule.method} needs at least {rule.min_n} on each side")


def _sentence(column: str, cmp: Comparison, p: float | None, rule: Rule, correction: str, family: int,
              verdict: bool) -> str:
    label = table("methods")[cmp.method].label  # type: ignore[attr-defined]
    effect = f"{label} {abs(cmp.effect):.3g} (material {rule.material:g})"
    if p is None:
        return f"{column!r}: {effect}" + (", differs" if verdict else ", same")
    adj = "" if correction == "none" or family <= 1 else f" after {_CORRECTION_NAMES[correction]} over {family}"
    tail = "differs" if verdict else ("significant but immaterial" if p < rule.alpha else "not significant")
    return f"{column!r}: {effect}, p {p:.2g}{adj} (alpha {rule.alpha:g}): {tail}"


_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": ""}
