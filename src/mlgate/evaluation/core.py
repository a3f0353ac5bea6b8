"""Evaluate one model on test rows: metrics with bootstrap intervals, thresholds, slices, plots."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.evaluation.business import attach_costs
from mlgate.evaluation.inputs import resolve_task, split_xy
from mlgate.evaluation.plots import evaluation_figures
from mlgate.evaluation.slices import slice_metrics
from mlgate.metrics import bootstrap, compute, greater_is_better, headline_metric, interval, predict, usable_metrics
from mlgate.reports.model import Check, Report, Section
from mlgate.thresholds import parse_thresholds

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import BusinessConfig, EvaluateGate
    from mlgate.metrics import Predictions
    from mlgate.models import LoadedModel

METRICS_FILE = "metrics.json"


@dataclass
class Evaluation:
    """What an evaluation measured, in the shape of ``metrics.json``."""

    task: str
    n_rows: int
    primary: str
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    confidence: float
    bootstrap: int
    seed: int
    slices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def headline(self, name: str | None = None) -> str:
        """``roc_auc 0.861 [0.848, 0.874]``."""
        name = name or self.primary
        value, (low, high) = self.metrics[name], self.intervals.get(name, (math.nan, math.nan))
        if not self.bootstrap:
            return f"{name} {value:.3f}"
        return f"{name} {value:.3f} [{low:.3f}, {high:.3f}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task, "n_rows": self.n_rows, "primary": self.primary,
            "confidence": self.confidence, "bootstrap": self.bootstrap, "seed": self.seed,
            "metrics": {k: {"value": _num(v), "ci_low": _num(self.intervals.get(k, (math.nan,) * 2)[0]),
                            "ci_high": _num(self.intervals.get(k, (math.nan,) * 2)[1]),
                            "greater_is_better": greater_is_better(k)}
                        for k, v in self.metrics.items()},
            "slices": self.slices,
        }

    def write(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / METRICS_FILE
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


Intervals = dict[str, tuple[float, float]]


def measure(preds: Predictions, gate: EvaluateGate, seed: int) -> tuple[dict[str, float], Intervals]:
    """Point estimates of every metric and their bootstrap intervals."""
    names = usable_metrics(preds)
    values = compute(preds, names)
    if not gate.bootstrap:
        return values, {}
    samples = bootstrap([preds], names, gate.bootstrap, seed)[0]
    return values, {k: interval(samples[k], gate.confidence) for k in names}


def evaluate_model(model: LoadedModel, frame: pd.DataFrame, target: str, gate: EvaluateGate, *,
                   task: str | None = None, seed: int = 42, id_columns: list[str] | None = None,
                   plots: bool = True, business: BusinessConfig | None = None,
                   baseline: LoadedModel | None = None) -> tuple[Report, Evaluation]:
    """Measure ``model`` on ``frame`` and judge it against the gate's thresholds.

    With ``business`` costs, ``expected_cost`` and ``savings`` (against ``baseline``, the
    production model, or the constant answer) are metrics like the others.
    """
    features, y = split_xy(model, frame, target, id_columns)
    task = resolve_task(task, model, y)
    preds = predict(model.estimator, features, y, task)
    against = _business(business, preds, baseline, frame, target, id_columns)
    bounds = parse_thresholds(gate.thresholds, usable_metrics(preds))
    values, intervals = measure(preds, gate, seed)
    primary = headline_metric(task, preds.proba is not None)
    slice_names = sorted({primary, *(b.metric for b in bounds)} | ({"accuracy"} if task != "regression" else {"mae"}))
    slices = slice_metrics(preds, frame.reset_index(drop=True), gate.slices, slice_names,
                           min_rows=gate.min_slice_rows, max_values=gate.max_slice_values)
    result = Evaluation(task, preds.n, primary, values, intervals, gate.confidence, gate.bootstrap,
                        seed, slices)
    report = Report(stage="evaluate", metrics={k: _num(v) for k, v in values.items()},
                    key_figure=result.headline())
    for bound in bounds:
        ci = intervals.get(bound.metric, (values[bound.metric],) * 2)
        report.add(bound.check(values[bound.metric], ci, gate.threshold_on))
    for check in _slice_checks(slices, bounds):
        report.add(check)
    if not math.isfinite(values[primary]):
        report.add(Check(name="metrics_defined", passed=False, severity="warning", observed=None,
                         message=f"{primary} is undefined on these {preds.n} test rows "
                                 "(a single class in the target?)"))
    report.extras = {"task": task, "n_rows": preds.n, "primary": primary,
                     **({"business": {"baseline": against, "unit": business.unit}} if business and against else {}),
                     "intervals": {k: [_num(lo), _num(hi)] for k, (lo, hi) in intervals.items()},
                     "confidence": gate.confidence, "bootstrap": gate.bootstrap, "slices": slices}
    report.sections = [_metrics_section(result), *_slice_sections(slices)]
    if plots:
        report.figures = evaluation_figures(preds)
    return report, result


def _business(business: BusinessConfig | None, preds: Predictions, baseline: LoadedModel | None,
              frame: pd.DataFrame, target: str, id_columns: list[str] | None) -> str | None:
    """Attach the business costs to ``preds``; the baseline's name, or None without costs."""
    if business is None or not business.enabled:
        return None

    base = None
    if baseline is not None:
        x_base, y = split_xy(baseline, frame, target, id_columns, where="the test data (for the baseline)")
        base = predict(baseline.estimator, x_base, y, preds.task)
    return attach_costs(business, preds, base)


def _slice_checks(slices: dict[str, list[dict[str, Any]]], bounds: list[Any]) -> list[Check]:
    """Warnings for slices with enough rows whose metric misses a threshold."""
    checks = []
    for column, rows in slices.items():
        for bound in bounds:
            misses = [r for r in rows if not r["small"] and r.get(bound.metric) is not None
                      and not bound.holds(r[bound.metric])]
            shown = ", ".join(f"{r['value']}={r[bound.metric]:.3f} (n={r['n']})" for r in misses[:5])
            checks.append(Check(
                name=f"slice_{bound.metric}_{bound.name}", column=column, severity="warning",
                passed=not misses, observed=len(misses), expected=f"{bound.symbol} {bound.limit:g}",
                message=(f"{column!r}: {len(misses)} slice(s) miss {bound.metric} {bound.symbol} "
                         f"{bound.limit:g}: {shown}") if misses else
                        f"{column!r}: every slice meets {bound.metric} {bound.symbol} {bound.limit:g}"))
    return checks


def _metrics_section(result: Evaluation) -> Section:
    level = f"{result.confidence:.0%}"
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{v:.4f}</td>"
        f"<td class='num'>{_fmt_ci(result.intervals.get(k))}</td></tr>"
        for k, v in result.metrics.items())
    caption = (f"{result.bootstrap} bootstrap resamples of {result.n_rows} rows, seed {result.seed}"
               if result.bootstrap else f"{result.n_rows} rows, no bootstrap")
    return Section(title=f"Metrics with {level} confidence intervals", html=(
        f"<p>{html.escape(caption)}</p><table><tr><th>metric</th><th>value</th>"
        f"<th>{level} interval</th></tr>{rows}</table>"))


def _slice_sections(slices: dict[str, list[dict[str, Any]]]) -> list[Section]:
    sections = []
    for column, rows in slices.items():
        names = [k for k in rows[0] if k not in ("value", "n", "small")] if rows else []
        head = "".join(f"<th>{html.escape(n)}</th>" for n in ["value", "n", *names])
        body = "".join(
            "<tr>" + f"<td>{html.escape(r['value'])}{' (few rows)' if r['small'] else ''}</td>"
            f"<td class='num'>{r['n']}</td>"
            + "".join(f"<td class='num'>{'-' if r[n] is None else format(r[n], '.4f')}</td>" for n in names)
            + "</tr>" for r in rows)
        sections.append(Section(title=f"Slices by {column}", html=f"<table><tr>{head}</tr>{body}</table>"))
    return sections


def _fmt_ci(ci: tuple[float, float] | None) -> str:
    if not ci or not all(math.isfinite(v) for v in ci):
        return "-"
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def _num(value: float) -> float | None:
    """A JSON-safe number: NaN and infinities become null."""
    return round(float(value), 6) if math.isfinite(value) else None
