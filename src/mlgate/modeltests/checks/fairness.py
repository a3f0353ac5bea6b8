"""Fairness per protected attribute: parity, equalized odds, equal opportunity, the 80% rule.

A bound fails only when the gap is both material (beyond the configured limit) and
significant (a permutation test of the group labels, Holm-corrected over every figure the
check judges): on a small test set a gap of 0.15 is often noise, and a gate that fails noise
gets switched off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlgate.modeltests import group_rates as F
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.reports.figures import new_figure, to_figure
from mlgate.reports.model import Check
from mlgate.stats import adjust_p_values


@dataclass
class _Test:
    """One judged figure: attribute, label, figure name, its values, p-value and interval."""

    attr: str
    label: Any
    name: str
    bound: float
    value: float  # fairlearn's figure (an undefined rate counts as 0)
    judged: float  # the figure over the groups where each rate is defined
    p_value: float
    pair: dict[str, Any] | None
    adjusted_p: float = 1.0

    @property
    def material(self) -> bool:
        if np.isnan(self.judged):
            return False
        return self.judged < self.bound if self.name == "disparate_impact" else self.judged > self.bound

    def failed(self, alpha: float) -> bool:
        return self.material and self.adjusted_p < alpha

    def as_dict(self) -> dict[str, Any]:
        return {"figure": self.name, "value": self.value, "judged_value": self.judged, "bound": self.bound,
                "p_value": self.p_value, "adjusted_p": self.adjusted_p, "material": self.material,
                "pair": self.pair}


class Fairness(ModelCheck):
    """Group fairness of the predictions for each protected attribute (classification)."""

    name: ClassVar[str] = "fairness"
    max_parity_difference: float = Field(0.1, ge=0, le=1)
    max_equalized_odds_difference: float = Field(0.1, ge=0, le=1)
    min_disparate_impact: float = Field(0.8, ge=0, le=1, description="the 80% rule")
    max_equal_opportunity_difference: float | None = Field(None, ge=0, le=1)
    max_accuracy_difference: float | None = Field(None, ge=0, le=1)
    min_group_size: int = Field(30, ge=1, description="smaller groups are reported, not gated")
    positive_label: Any = Field(None, description="the favorable outcome; default: the last class")
    alpha: float = Field(0.05, gt=0, lt=1, description="family-wise error rate of the check (Holm)")
    n_permutations: int = Field(999, ge=99, le=100_000, description="group relabellings per figure")
    level: float = Field(0.95, gt=0, lt=1, description="confidence level of the pairwise intervals")

    def bounds(self) -> dict[str, float]:
        """Figure name -> configured bound (a maximum, or a minimum for disparate impact)."""
        raw = {"parity_difference": self.max_parity_difference,
               "disparate_impact": self.min_disparate_impact,
               "equalized_odds_difference": self.max_equalized_odds_difference,
               "equal_opportunity_difference": self.max_equal_opportunity_difference,
               "accuracy_difference": self.max_accuracy_difference}
        return {k: v for k, v in raw.items() if v is not None}

    def run(self, subject: Subject) -> Outcome:
        if not subject.groups:
            return self.skip("no protected attributes (set data.protected or --protected)")
        if subject.task == "regression":
            return self._regression(subject)
        assert subject.classes is not None  # set by the runner for every classifier
        labels = [self.positive_label] if self.positive_label is not None else (
            [subject.classes[-1]] if subject.task == "binary" else list(subject.classes))
        pred = subject.predict()
        infos, tests, shown = {}, [], {}
        for a, (attr, values) in enumerate(subject.groups.items()):
            info, found, rates = self._measure(attr, values.to_numpy(), subject.y, pred, labels,
                                               seed=subject.seed + 1000 * a)
            infos[attr], shown[attr] = info, rates
            tests += found
        _holm(tests)
        rows = [self._row(attr, infos[attr], [t for t in tests if t.attr == attr], shown[attr], len(labels) > 1)
                for attr in subject.groups]
        figures = [_bars(attr, r) for attr, r in shown.items() if r is not None and len(r.groups) >= 2]
        return Outcome(checks=rows, details={**infos, "alpha": self.alpha, "correction": "holm"}, figures=figures)

    def _measure(self, attr: str, sensitive: np.ndarray, y: np.ndarray, pred: np.ndarray, labels: list[Any],
                 seed: int) -> tuple[dict[str, Any], list[_Test], F.GroupRates | None]:
        """Figures, p-values and intervals of one attribute for every label."""
        per_label: dict[str, Any] = {}
        tests: list[_Test] = []
        shown: F.GroupRates | None = None
        small: list[dict[str, Any]] = []
        for j, label in enumerate(labels):
            all_rates = F.group_rates(y, pred, sensitive, positive=label)
            small = [g for g in all_rates.table() if g["count"] < self.min_group_size]
            rates = all_rates.subset(all_rates.count >= self.min_group_size)
            shown = shown or rates
            entry: dict[str, Any] = {"groups": all_rates.table(), **_figures(rates),
                                     "undefined": rates.undefined()}
            per_label[str(label)] = entry
            if len(rates.groups) < 2:
                continue
            found = [_Test(attr, label, name, bound, F.figure(rates, name),
                           F.figure(rates, name, undefined_as_zero=False),
                           F.permutation_p_value(rates, name, n_permutations=self.n_permutations,
                                                 seed=seed + 10 * j + i),
                           F.widest_pair(rates, name, level=self.level))
                     for i, (name, bound) in enumerate(self.bounds().items())]
            entry["tests"] = found  # replaced by plain dicts once the p-values are adjusted
            entry["pairwise"] = {rate: F.pairwise_differences(rates, rate, level=self.level)
                                 for rate in ("selection_rate", "tpr", "fpr")}
            tests += found
        info = {"per_label": per_label, "small_groups": small, "min_group_size": self.min_group_size}
        return info, tests, shown

    def _row(self, attr: str, info: dict[str, Any], tests: list[_Test], shown: F.GroupRates | None,
             name_label: bool) -> Check:
        for entry in info["per_label"].values():
            entry["tests"] = [t.as_dict() for t in entry.get("tests", [])]
        tail = f"; groups under {self.min_group_size} rows reported, not gated: " + ", ".join(
            f"{g['group']!r} (n={g['count']})" for g in info["small_groups"]) if info["small_groups"] else ""
        if shown is None or len(shown.groups) < 2:
            note = f"{attr}: fewer than 2 groups with at least {self.min_group_size} rows"
            return self.result(True, f"skipped: {note}{tail}", column=attr, details=info)
        failed = [t for t in tests if t.failed(self.alpha)]
        noise = [t for t in tests if t.material and not t.failed(self.alpha)]
        if failed:
            text = "; ".join(self._sentence(t, name_label) for t in failed)
        else:
            first = next(iter(info["per_label"].values()))
            text = (f"{attr}: parity difference {first['parity_difference']:.3f}, equalized odds "
                    f"difference {first['equalized_odds_difference']:.3f}, disparate impact "
                    f"{_num(first['disparate_impact'], '.2f')} across {len(shown.groups)} groups")
            if noise:
                text += "; within sampling noise: " + "; ".join(self._sentence(t, name_label) for t in noise)
        text += _undefined_note(info) + tail
        first_tests = {t.name: t for t in tests if t.label == tests[0].label} if tests else {}
        observed = {name: {"value": _round(t.value), "p_value": round(t.adjusted_p, 6)}
                    for name, t in first_tests.items()}
        expected = {**self.bounds(), "alpha": self.alpha}
        return self.result(not failed, text, column=attr, observed=observed, expected=expected, details=info)

    def _sentence(self, t: _Test, name_label: bool) -> str:
        """'gender: demographic parity difference 0.243 > 0.1 (p=0.001, Holm 0.004 < 0.05); ...'."""
        title = F.FIGURES[t.name].title
        of = f" (outcome {F._jsonable(t.label)!r})" if name_label else ""
        op = "<" if t.name == "disparate_impact" else ">"
        rule = " (80% rule)" if t.name == "disparate_impact" else ""
        verdict = "<" if t.failed(self.alpha) else ">="
        head = (f"{t.attr}{of}: {title} {t.judged:.3f} {op} {t.bound}{rule} (permutation p={t.p_value:.3g}, "
                f"Holm-adjusted {t.adjusted_p:.3g} {verdict} {self.alpha})")
        pair = t.pair
        if pair is None:
            return head
        what = {"selection_rate": "is selected at", "tpr": "has a true positive rate of",
                "fpr": "has a false positive rate of", "accuracy": "has an accuracy of"}[pair["rate"]]
        return (f"{head}; group {pair['a']!r} {what} {pair['rate_a']:.1%} vs {pair['rate_b']:.1%} for {pair['b']!r}, "
                f"difference {pair['difference']:.3f} ({pair['level']:.0%} CI [{pair['low']:.3f}, {pair['high']:.3f}])")

    def _regression(self, subject: Subject) -> Outcome:
        pred, rows, details = subject.predict().astype(float), [], {}
        for attr, values in subject.groups.items():
            frame = _regression_groups(values.to_numpy(), subject.y.astype(float), pred)
            details[attr] = frame
            text = ", ".join(f"{g['group']!r}: MAE {g['mae']:.3g}" for g in frame)
            rows.append(self.result(True, f"{attr}: {text} (reported; no bound for regression)",
                                    column=attr, observed=frame))
        return Outcome(checks=rows, details=details)


def _holm(tests: list[_Test]) -> None:
    """Holm-adjusted p-values over every figure the check judges, in place."""
    adjusted = adjust_p_values([t.p_value for t in tests], method="holm")
    for t, p in zip(tests, adjusted, strict=True):
        t.adjusted_p = float(p) if p is not None else 1.0


def _figures(r: F.GroupRates) -> dict[str, float]:
    """fairlearn's figures; ``parity_ratio`` is the name fairlearn uses for disparate impact."""
    out = {name: F.figure(r, name) for name in F.FIGURES}
    out["parity_ratio"] = out["disparate_impact"]
    return out


def _undefined_note(info: dict[str, Any]) -> str:
    notes = []
    for label, entry in info["per_label"].items():
        for rate, groups in entry.get("undefined", {}).items():
            what = "positives" if rate == "tpr" else "negatives"
            notes.append(f"{rate} undefined for group(s) {', '.join(map(repr, groups))} (no {what}"
                         f"{'' if len(info['per_label']) == 1 else f' for outcome {label!r}'}; fairlearn's "
                         "figures count it as 0, the verdict leaves it out)")
    return "; " + "; ".join(notes) if notes else ""


def _num(value: float, fmt: str) -> str:
    return "undefined" if np.isnan(value) else format(value, fmt)


def _round(value: float) -> float | None:
    return None if np.isnan(value) else round(value, 6)


def _regression_groups(sensitive: np.ndarray, y: np.ndarray, pred: np.ndarray) -> list[dict[str, Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(sensitive))
    keep = codes >= 0
    n = np.bincount(codes[keep], minlength=len(uniques))
    mae = np.bincount(codes[keep], weights=np.abs(pred - y)[keep], minlength=len(uniques)) / n
    mean = np.bincount(codes[keep], weights=pred[keep], minlength=len(uniques)) / n
    return [{"group": F._jsonable(g), "count": int(n[i]), "mae": float(mae[i]),
             "mean_prediction": float(mean[i])} for i, g in enumerate(uniques)]


def _bars(attr: str, r: F.GroupRates):  # type: ignore[no-untyped-def]

    fig = new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    x = np.arange(len(r.groups))
    for i, (label, values) in enumerate((("selection rate", r.selection_rate),
                                         ("true positive rate", r.tpr),
                                         ("false positive rate", r.fpr))):
        ax.bar(x + (i - 1) * 0.27, np.nan_to_num(values), width=0.27, label=label)
    ax.set_xticks(x, [str(g) for g in r.groups])
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return to_figure(fig, f"Fairness by {attr}", "per-group rates of the favorable outcome")
