"""Candidate versus baseline on the same rows: paired bootstrap deltas, McNemar, decision rules.

Both models predict the same test rows and every bootstrap resample weighs those rows the
same way for both, so the interval of each metric's delta reflects the difference between
the models, not the noise of the test set twice over. For classification, McNemar's exact
test compares the rows one model gets right and the other wrong.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mlgate.errors import ConfigError, UsageError
from mlgate.evaluation.business import attach_pair
from mlgate.evaluation.inputs import resolve_task, split_xy
from mlgate.metrics import bootstrap, compute, greater_is_better, headline_metric, interval, predict, usable_metrics
from mlgate.reports.model import Check, Report, Section

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlgate.config import BusinessConfig, CompareGate
    from mlgate.metrics import Predictions
    from mlgate.models import LoadedModel

DECISION_FILE = "decision.json"
BETTER, WORSE, SAME = "significantly better", "significantly worse", "no significant difference"


@dataclass
class Outcome:
    """The comparison on the decisive metric, oriented so that a positive change is better."""

    metric: str
    greater_is_better: bool
    candidate: float
    baseline: float
    delta: float                      # candidate - baseline, as measured
    improvement: float                # delta, or -delta when lower is better
    ci: tuple[float, float]           # interval of the improvement
    p_value: float                    # two-sided bootstrap p-value of "no difference"
    level: float
    verdict: str                      # BETTER, WORSE or SAME
    mcnemar: dict[str, Any] | None = None
    table: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def relative(self) -> float:
        return self.improvement / abs(self.baseline) if self.baseline else math.inf


@dataclass(frozen=True)
class Rule:
    """A decision rule on the outcome; ``applies`` says whether the config switches it on."""

    name: ClassVar[str] = ""

    def applies(self, gate: CompareGate) -> bool:
        return True

    def check(self, outcome: Outcome, gate: CompareGate) -> Check:
        raise NotImplementedError


class NotSignificantlyWorse(Rule):
    """Fail when the improvement's interval lies wholly below zero AND the candidate is worse by at
    least ``material`` of production's metric (significant and material)."""

    name: ClassVar[str] = "not_significantly_worse"

    def check(self, outcome: Outcome, gate: CompareGate) -> Check:
        low, high = outcome.ci
        immaterial = _immaterially_worse(outcome, gate)
        verdict = f"{outcome.verdict}, {_immaterial_note(outcome, gate)}" if immaterial else outcome.verdict
        return Check(name=self.name, passed=outcome.verdict != WORSE or immaterial, observed=[_r(low), _r(high)],
                     expected=f"interval reaching 0 or above, or worse by less than {gate.material:.1%}",
                     message=f"{outcome.metric}: {verdict} "
                             f"(change {outcome.delta:+.4f}, {outcome.level:.0%} interval of the "
                             f"improvement [{low:+.4f}, {high:+.4f}], {_fmt_p(outcome.p_value, gate.bootstrap)})")


def _immaterially_worse(outcome: Outcome, gate: CompareGate) -> bool:
    """Significantly worse, but by less than ``material`` of production's metric."""
    return outcome.verdict == WORSE and outcome.baseline != 0 and -outcome.relative < gate.material


def _immaterial_note(outcome: Outcome, gate: CompareGate) -> str:
    return f"by {-outcome.relative:.2%} of production's value, under the material {gate.material:.1%}: passes"


class _MinChange(Rule):
    """The improvement (``observed``) must reach the gate's ``key`` when that is set."""

    key: ClassVar[str] = ""  # the gate's field, and the rule's name
    what: ClassVar[str] = ""
    field: ClassVar[str] = ""  # the Outcome attribute judged

    def applies(self, gate: CompareGate) -> bool:
        return getattr(gate, self.key) is not None

    def shown(self, value: float, limit: bool = False) -> str:
        return f"{value:+g}" if limit else f"{value:+.4f}"

    def check(self, outcome: Outcome, gate: CompareGate) -> Check:
        limit = float(getattr(gate, self.key) or 0.0)
        value = float(getattr(outcome, self.field))
        ok = value >= limit
        return Check(name=self.name, passed=ok, observed=_r(value), expected=f">= {limit:g}",
                     message=f"{outcome.metric}: {self.what} {self.shown(value)} "
                             f"{'reaches' if ok else 'falls short of'} the required {self.shown(limit, True)}")


class MinAbsoluteChange(_MinChange):
    """The improvement must reach ``min_absolute_change`` (MLflow's MetricThreshold rule)."""

    name = key = "min_absolute_change"
    what = field = "improvement"


class MinRelativeChange(_MinChange):
    """The improvement relative to the baseline must reach ``min_relative_change``."""

    name = key = "min_relative_change"
    what, field = "relative improvement", "relative"

    def shown(self, value: float, limit: bool = False) -> str:
        return f"{value:+.2%}"


RULES: dict[str, type[Rule]] = {r.name: r for r in (NotSignificantlyWorse, MinAbsoluteChange, MinRelativeChange)}


def compare_models(candidate: LoadedModel, baseline: LoadedModel, frame: pd.DataFrame, target: str,
                   gate: CompareGate, *, task: str | None = None, seed: int = 42,
                   id_columns: list[str] | None = None,
                   business: BusinessConfig | None = None) -> tuple[Report, Outcome]:
    """Compare two models on ``frame``; the report's checks are the decision rules."""
    x_cand, y = split_xy(candidate, frame, target, id_columns)
    x_base, _ = split_xy(baseline, frame, target, id_columns, where="the test data (for the baseline)")
    task = resolve_task(task, candidate, y)
    cand, base = predict(candidate.estimator, x_cand, y, task), predict(baseline.estimator, x_base, y, task)
    if cand.is_classification and [str(c) for c in cand.classes] != [str(c) for c in base.classes]:
        raise UsageError(f"the candidate predicts classes {cand.classes} but the baseline "
                         f"{base.classes}; models of different label sets cannot be compared")
    if business is not None and business.enabled:
        attach_pair(business, cand, base)
    outcome = measure_outcome(cand, base, gate, seed)
    report = Report(stage="compare", metrics={"candidate": _r(outcome.candidate), "baseline": _r(outcome.baseline),
                                              "delta": _r(outcome.delta), "p_value": _r(outcome.p_value)})
    for rule in RULES.values():
        if rule().applies(gate):
            report.add(rule().check(outcome, gate))
    if outcome.mcnemar is not None:
        m = outcome.mcnemar
        report.add(Check(name="mcnemar", passed=True, severity="info", observed=_r(m["p_value"]),
                         message=f"McNemar's exact test: candidate alone right on {m['candidate_only']} "
                                 f"rows, baseline alone right on {m['baseline_only']}, p={m['p_value']:.3g}"))
    report.key_figure = headline(outcome) + (f" ({_immaterial_note(outcome, gate)})"
                                             if _immaterially_worse(outcome, gate) else "")
    report.sections = [_table_section(outcome)]
    return report, outcome


def measure_outcome(cand: Predictions, base: Predictions, gate: CompareGate, seed: int) -> Outcome:
    """Point values, paired bootstrap intervals of every delta and the verdict on the decisive metric."""
    import numpy as np

    names = [n for n in usable_metrics(cand) if n in usable_metrics(base)]
    metric = gate.metric or headline_metric(cand.task, cand.proba is not None and base.proba is not None)
    if metric not in names:
        raise ConfigError(f"gates -> compare -> metric: {metric!r} is not available for these models; "
                          f"choose one of {', '.join(names)}")
    level = 1.0 - gate.significance
    values_c, values_b = compute(cand, names), compute(base, names)
    n_boot = gate.bootstrap
    samples_c, samples_b = bootstrap([cand, base], names, n_boot, seed)
    table = {}
    for name in names:
        deltas = samples_c[name] - samples_b[name]
        low, high = interval(deltas, level)
        table[name] = {"candidate": _r(values_c[name]), "baseline": _r(values_b[name]),
                       "delta": _r(values_c[name] - values_b[name]), "ci_low": _r(low), "ci_high": _r(high),
                       "greater_is_better": greater_is_better(name)}
    gib = gate.greater_is_better if gate.greater_is_better is not None else greater_is_better(metric)
    sign = 1.0 if gib else -1.0
    gains = sign * (samples_c[metric] - samples_b[metric])
    gains = gains[np.isfinite(gains)]
    low, high = interval(gains, level)
    delta = values_c[metric] - values_b[metric]
    p_value = _bootstrap_p(gains)
    verdict = BETTER if low > 0 else WORSE if high < 0 else SAME
    return Outcome(metric, gib, values_c[metric], values_b[metric], delta, sign * delta, (low, high), p_value,
                   level, verdict, mcnemar(cand, base) if cand.is_classification else None, table)


def _bootstrap_p(gains: np.ndarray) -> float:
    """Two-sided share of resamples on the far side of zero (the percentile-interval test)."""
    if gains.size == 0:
        return math.nan
    below, above = float((gains <= 0).mean()), float((gains >= 0).mean())
    return min(1.0, 2 * min(below, above))


def mcnemar(cand: Predictions, base: Predictions) -> dict[str, Any]:
    """McNemar's exact test: a binomial test on the rows exactly one of the models gets right."""
    from scipy.stats import binomtest

    right_c, right_b = cand.pred == cand.y, base.pred == base.y
    only_c, only_b = int((right_c & ~right_b).sum()), int((~right_c & right_b).sum())
    discordant = only_c + only_b
    p = binomtest(only_c, discordant, 0.5).pvalue if discordant else 1.0
    return {"candidate_only": only_c, "baseline_only": only_b, "p_value": float(p)}


def headline(outcome: Outcome) -> str:
    """``roc_auc +0.012 [+0.004, +0.020]: significantly better``."""
    low, high = outcome.ci
    sign = 1.0 if outcome.greater_is_better else -1.0
    # shown as candidate - baseline, so a drop in log_loss reads as a negative number
    shown = sorted((sign * low, sign * high))
    return f"{outcome.metric} {_signed(outcome.delta)} [{_signed(shown[0])}, {_signed(shown[1])}]: {outcome.verdict}"


def _signed(x: float) -> str:
    """+0.012; no "-0.000" for a zero or a change that rounds to it (two identical models)."""
    return f"{round(x, 3) + 0.0:+.3f}"


_COLUMNS = ("candidate", "baseline", "delta", "ci_low", "ci_high")


def _table_section(outcome: Outcome) -> Section:
    rows = "".join(
        f"<tr><td>{html.escape(k)}{' (decisive)' if k == outcome.metric else ''}</td>"
        + "".join(f"<td class='num'>{_cell(v[c])}</td>" for c in _COLUMNS)
        + "</tr>" for k, v in outcome.table.items())
    head = "".join(f"<th>{h}</th>" for h in ("metric", "candidate", "baseline", "delta",
                                              "delta low", "delta high"))
    return Section(title="Candidate versus baseline", html=(
        f"<p>Paired bootstrap, {outcome.level:.0%} intervals of candidate - baseline.</p>"
        f"<table><tr>{head}</tr>{rows}</table>"))


def _fmt_p(p: float, n_boot: int) -> str:
    """A bootstrap p-value of 0 only says it is below the resolution 1/n_boot."""
    if math.isfinite(p) and p == 0 and n_boot:
        return f"p<{1 / n_boot:.2g}"
    return f"p={p:.3g}"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _r(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None
