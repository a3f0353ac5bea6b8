"""Fairness per protected attribute: parity, equalized odds, equal opportunity, 80% rule."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlgate.modeltests import fairness as F
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.reports.model import Check


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
    n_boot: int = Field(200, ge=20, le=5000, description="resamples for the interval of a failing difference")

    def run(self, subject: Subject) -> Outcome:
        if not subject.groups:
            return self.skip("no protected attributes (set data.protected or --protected)")
        if subject.task == "regression":
            return self._regression(subject)
        assert subject.classes is not None  # set by the runner for every classifier
        labels = [self.positive_label] if self.positive_label is not None else (
            [subject.classes[-1]] if subject.task == "binary" else list(subject.classes))
        pred = subject.predict()
        rows, figures, details = [], [], {}
        for attr, values in subject.groups.items():
            row, info, rates = self._attribute(attr, values.to_numpy(), subject.y, pred, labels)
            rows.append(row)
            details[attr] = info
            if rates is not None:
                figures.append(_bars(attr, rates))
        return Outcome(checks=rows, details=details, figures=figures)

    def _attribute(self, attr: str, sensitive: np.ndarray, y: np.ndarray, pred: np.ndarray,
                   labels: list[Any]) -> tuple[Check, dict[str, Any], F.GroupRates | None]:
        problems: list[str] = []
        per_label: dict[str, Any] = {}
        shown: F.GroupRates | None = None
        small: list[dict[str, Any]] = []
        for label in labels:
            all_rates = F.group_rates(y, pred, sensitive, positive=label)
            keep = all_rates.count >= self.min_group_size
            small = [g for g in all_rates.table() if g["count"] < self.min_group_size]
            rates = all_rates.subset(keep)
            shown = shown or rates
            figures = _figures(rates)
            per_label[str(label)] = {"groups": all_rates.table(), **figures}
            if len(rates.groups) < 2:
                continue
            found = self._judge(attr, label, rates, figures, len(labels) > 1)
            if found:  # only a failing check pays for the bootstrap
                found = self._with_intervals(found, y, pred, sensitive, label, per_label[str(label)])
            problems += found
        info = {"per_label": per_label, "small_groups": small, "min_group_size": self.min_group_size}
        if shown is None or len(shown.groups) < 2:
            note = f"{attr}: fewer than 2 groups with at least {self.min_group_size} rows"
            return self.result(True, f"skipped: {note}", column=attr), info, None
        first = next(iter(per_label.values()))
        observed = {k: round(v, 6) for k, v in first.items() if k not in ("groups", "intervals")}
        expected = {"max_parity_difference": self.max_parity_difference,
                    "max_equalized_odds_difference": self.max_equalized_odds_difference,
                    "min_disparate_impact": self.min_disparate_impact}
        tail = f"; groups under {self.min_group_size} rows reported, not gated: " + ", ".join(
            f"{g['group']!r} (n={g['count']})" for g in small) if small else ""
        message = ("; ".join(problems) if problems else
                   f"{attr}: parity difference {observed['parity_difference']:.3f}, equalized odds "
                   f"difference {observed['equalized_odds_difference']:.3f}, disparate impact "
                   f"{observed['disparate_impact']:.2f} across {len(shown.groups)} groups") + tail
        return self.result(not problems, message, column=attr, observed=observed,
                           expected=expected, details=info), info, shown

    def _with_intervals(self, problems: list[str], y: np.ndarray, pred: np.ndarray, sensitive: np.ndarray,
                        label: Any, info: dict[str, Any]) -> list[str]:
        """Add the 95% bootstrap interval of each broken difference, so noise can be told apart."""
        out = []
        for text in problems:
            for phrase, key, figure in (("demographic parity difference", "parity_difference", F.parity_difference),
                                        ("equalized odds difference", "equalized_odds_difference",
                                         F.equalized_odds_difference)):
                if phrase in text:
                    low, high = F.bootstrap_interval(y, pred, sensitive, label, figure,
                                                     min_group_size=self.min_group_size, n_boot=self.n_boot)
                    info.setdefault("intervals", {})[key] = [low, high]
                    text = text.replace(f"{phrase} {info[key]:.3f}",
                                        f"{phrase} {info[key]:.3f} (95% CI [{low:.3f}, {high:.3f}])")
            out.append(text)
        return out

    def _judge(self, attr: str, label: Any, r: F.GroupRates, fig: dict[str, float],
               name_label: bool) -> list[str]:
        """One sentence per broken bound, naming the disadvantaged group."""
        out = []
        of = f" (outcome {label!r})" if name_label else ""
        low, high = int(np.argmin(r.selection_rate)), int(np.argmax(r.selection_rate))
        sel = (f"group {r.groups[low]!r} is selected at {r.selection_rate[low]:.1%} vs "
               f"{r.selection_rate[high]:.1%} for {r.groups[high]!r}")
        if fig["parity_difference"] > self.max_parity_difference:
            out.append(f"{attr}{of}: demographic parity difference {fig['parity_difference']:.3f} "
                       f"> {self.max_parity_difference}; {sel}")
        if fig["disparate_impact"] < self.min_disparate_impact:
            out.append(f"{attr}{of}: disparate impact {fig['disparate_impact']:.2f} < "
                       f"{self.min_disparate_impact} (80% rule); disadvantaged group {r.groups[low]!r}")
        worst_tpr = int(np.nanargmin(r.tpr)) if not np.isnan(r.tpr).all() else low
        if fig["equalized_odds_difference"] > self.max_equalized_odds_difference:
            out.append(f"{attr}{of}: equalized odds difference {fig['equalized_odds_difference']:.3f} "
                       f"> {self.max_equalized_odds_difference}; lowest true positive rate in group "
                       f"{r.groups[worst_tpr]!r} ({r.tpr[worst_tpr]:.1%})")
        bound = self.max_equal_opportunity_difference
        if bound is not None and fig["equal_opportunity_difference"] > bound:
            out.append(f"{attr}{of}: equal opportunity difference "
                       f"{fig['equal_opportunity_difference']:.3f} > {bound}; group "
                       f"{r.groups[worst_tpr]!r} has the lowest true positive rate")
        bound = self.max_accuracy_difference
        if bound is not None and fig["accuracy_difference"] > bound:
            worst = int(np.argmin(r.accuracy))
            out.append(f"{attr}: accuracy difference {fig['accuracy_difference']:.3f} > {bound}; "
                       f"lowest accuracy in group {r.groups[worst]!r} ({r.accuracy[worst]:.1%})")
        return out

    def _regression(self, subject: Subject) -> Outcome:
        pred, rows, details = subject.predict().astype(float), [], {}
        for attr, values in subject.groups.items():
            frame = _regression_groups(values.to_numpy(), subject.y.astype(float), pred)
            details[attr] = frame
            text = ", ".join(f"{g['group']!r}: MAE {g['mae']:.3g}" for g in frame)
            rows.append(self.result(True, f"{attr}: {text} (reported; no bound for regression)",
                                    column=attr, observed=frame))
        return Outcome(checks=rows, details=details)


def _figures(r: F.GroupRates) -> dict[str, float]:
    return {"parity_difference": F.parity_difference(r), "parity_ratio": F.parity_ratio(r),
            "disparate_impact": F.parity_ratio(r),
            "equalized_odds_difference": F.equalized_odds_difference(r),
            "equal_opportunity_difference": F.equal_opportunity_difference(r),
            "accuracy_difference": float(np.ptp(r.accuracy)) if len(r.groups) else 0.0}


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
    from mlgate.reports.figures import new_figure, to_figure

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
