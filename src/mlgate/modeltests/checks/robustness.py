"""Robustness: does the model's answer move under small input noise more than a linear model's does?

A model whose metric falls when its inputs are corrupted is not broken: an informative feature
does that, and a better model loses more. What is worth stopping is a model that is *fragile*,
whose answers jump under noise that leaves a plain model's answers alone (a 1-nearest-neighbour,
an unpruned tree on noisy features). So the check compares, row by row and under the same noise
draws, how much the candidate's prediction moves with how much a linear reference model's
moves (logistic regression or ridge on the same columns, fitted on the model's training rows,
else cross-fitted on the test rows), and decides through ``mlgate.stats``: a one-sided paired
t-test over the rows, flagged when significant AND material (the ``robustness`` default rule).

The old absolute limit (the metric may fall by at most ``max_drop`` at every noise level up to
``gate_levels_up_to``) is still there, opt-in: set ``max_drop``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from mlgate.metrics import greater_is_better, headline_metric, scorer
from mlgate.modeltests import columns as C
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.reports.figures import new_figure, to_figure
from mlgate.reports.model import Check
from mlgate.stats import Decision, compare_paired, decide, default_rule
from mlgate.train.preprocess import build_pipeline, feature_set

REFERENCE_FIT_ROWS = 5000  # the linear reference is fitted on at most this many training rows
ATTRIBUTION_DRAWS = 150  # noisy copies for the per-feature excess of a fragile model, in all


class Robustness(ModelCheck):
    """Per-row prediction change under noise of ``level`` x each numeric feature's std (and a share
    ``level`` of category swaps), the model's against a linear reference's on the same draws."""

    name: ClassVar[str] = "robustness"
    noise_levels: list[float] = Field(default_factory=lambda: [0.01, 0.05, 0.1, 0.2],
                                      description="levels of the reported curve")
    level: float = Field(0.1, gt=0, description="the noise level the verdict is taken at")
    draws: int = Field(5, ge=1, le=100, description="noise draws at `level`, shared by both models")
    alpha: float | None = Field(None, gt=0, lt=1, description="significance level (default 0.01)")
    material: float | None = Field(None, ge=0, description="smallest excess change that counts: a share "
                                   "of flipped labels, or a share of the target's std (default 0.05)")
    max_drop: float | None = Field(None, ge=0, description="opt-in absolute limit on the metric drop at "
                                   "every level up to `gate_levels_up_to` (for a loss: its relative rise)")
    gate_levels_up_to: float = Field(0.1, ge=0, description="levels `max_drop` applies to")
    swap_categories: bool = True
    metric: str | None = Field(None, description="metric of the reported curve (and of `max_drop`); default: "
                               "the task's headline metric (roc_auc, f1_macro, rmse; accuracy without probabilities)")
    n_rows: int = Field(2000, ge=10)

    def run(self, subject: Subject) -> Outcome:
        metric = self.metric or headline_metric(subject.task, hasattr(subject.estimator, "predict_proba"))
        loss = not greater_is_better(metric)
        rows = subject.sample(self.n_rows, salt=2)
        X, y = subject.X.iloc[rows].reset_index(drop=True), subject.y[rows]
        noise = _Noise.of(subject, X, self.swap_categories)
        curve = self._curve(subject, X, y, metric, loss, noise)
        checks = [self._versus_reference(subject, X, y, noise)]
        kept = {c: v.tolist() for c, v in noise.kept.items()}  # atoms: no noise on them
        if kept:  # shown with the verdict (the report's check details), not only in report.json's extras
            checks[0].details["values_kept"] = kept
        if self.max_drop is not None:
            checks.append(self._absolute(curve, metric))
        gated = [p for p in curve if p["level"] <= self.gate_levels_up_to]
        details = {"metric": metric, "drop": "relative increase" if loss and curve[0]["baseline"] else "absolute",
                   "baseline": curve[0]["baseline"], "curve": curve, "rows": len(X),
                   "numeric_columns": list(noise.scale), "categorical_columns": list(noise.levels),
                   "values_kept": kept,
                   "reference": checks[0].details}
        figure = _curve_figure(curve, metric, curve[0]["baseline"], self.max_drop)
        return Outcome(checks=checks, details=details, figures=[figure],
                       metrics={"robustness_max_drop": max((p["drop"] for p in gated), default=0.0),
                                "robustness_excess_change": checks[0].details.get("excess_change")})

    def _curve(self, subject: Subject, X: pd.DataFrame, y: np.ndarray, metric: str, loss: bool,
               noise: _Noise) -> list[dict[str, Any]]:
        """The metric and the share of changed predictions at each level (one draw each): reported."""
        signed = scorer(subject.task, metric, subject.classes)  # a loss comes negated: higher is better
        baseline = -signed(subject.estimator, X, y) if loss else signed(subject.estimator, X, y)
        base_pred = np.asarray(subject.estimator.predict(X))
        curve = []
        for i, level in enumerate(sorted(self.noise_levels)):
            noisy = noise.draw(X, level, np.random.default_rng(subject.seed + 100 + i))
            value = -signed(subject.estimator, noisy, y) if loss else signed(subject.estimator, noisy, y)
            pred = np.asarray(subject.estimator.predict(noisy))
            curve.append({"level": level, metric: value, "baseline": baseline,
                          "drop": _drop(baseline, value, loss),
                          "changed_predictions": float(np.mean(_change(pred, base_pred, subject, y)))})
        return curve

    def _versus_reference(self, subject: Subject, X: pd.DataFrame, y: np.ndarray, noise: _Noise) -> Check:
        rule = default_rule("robustness").replace(alpha=self.alpha, material=self.material)
        reference = _fit_reference(subject, X, y)
        if isinstance(reference, str):
            return self._undecided(f"cannot decide: {reference}", {})
        out = _Output.of(subject, y)
        model_change, ref_change = np.zeros(len(X)), np.zeros(len(X))
        model_clean, ref_clean = out(subject.estimator, X), out(reference, X)
        for k in range(self.draws):
            noisy = noise.draw(X, self.level, np.random.default_rng(subject.seed + 1000 + k))
            model_change += out.change(out(subject.estimator, noisy), model_clean)
            ref_change += out.change(out(reference, noisy), ref_clean)
        model_change /= self.draws
        ref_change /= self.draws
        cmp = compare_paired(ref_change, model_change)
        decision: Decision = decide({"robustness": cmp}, {"robustness": rule})["robustness"]
        figures = {"model_change": float(model_change.mean()), "reference_change": float(ref_change.mean()),
                   "excess_change": float(cmp.effect), "unit": out.unit, "level": self.level, "draws": self.draws,
                   "reference_model": reference.reference_name, "reference_fitted_on": reference.fitted_on,
                   "decision": decision.to_dict()}
        if decision.outcome == "undecided":
            return self._undecided(f"cannot decide: {decision.reason}", figures)
        low, high = _interval(model_change - ref_change, rule.alpha)
        text = (f"at noise level {self.level:g} ({self.draws} draws, {len(X)} rows) the {out.unit} is "
                f"{figures['model_change']:.3f} against {figures['reference_change']:.3f} for a "
                f"{reference.reference_name} on the same draws: excess {cmp.effect:+.3f} "
                f"({1 - 2 * rule.alpha:.0%} CI [{low:+.3f}, {high:+.3f}]; material {rule.material:g}), "
                f"p {cmp.p_value:.2g} (alpha {rule.alpha:g})")
        if decision.outcome == "differs":
            figures["excess_by_feature"] = by_feature = self._by_feature(subject, X, noise, out, reference,
                                                                         (model_clean, ref_clean))
            text = (f"fragile: {text}: the model's answers jump under noise a linear model shrugs off"
                    f"{_blame(by_feature)}")
        else:
            text += ": " + decision.reason.rsplit(": ", 1)[-1]
        return self.result(decision.outcome != "differs", text, observed=round(float(cmp.effect), 6),
                           expected={"material": rule.material, "alpha": rule.alpha}, details=figures)

    def _by_feature(self, subject: Subject, X: pd.DataFrame, noise: _Noise, out: _Output, reference: Any,
                    clean: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
        """The excess change with noise on one feature at a time (only for a fragile verdict: it
        tells the user where the jumps come from), largest first. At most ``ATTRIBUTION_DRAWS``
        noisy copies in all, at least one a feature."""
        features = [*noise.scale, *(noise.levels if noise.swap else [])]
        draws = max(1, min(self.draws, ATTRIBUTION_DRAWS // max(1, len(features))))
        excess = {}
        for col in features:
            alone, total = noise.only(col), 0.0
            for k in range(draws):
                noisy = alone.draw(X, self.level, np.random.default_rng(subject.seed + 1000 + k))
                total += float(np.mean(out.change(out(subject.estimator, noisy), clean[0])
                                       - out.change(out(reference, noisy), clean[1])))
            excess[col] = round(total / draws, 6)
        return dict(sorted(excess.items(), key=lambda kv: -kv[1]))

    def _undecided(self, message: str, figures: dict[str, Any]) -> Check:
        return Check(name=self.name, passed=True, severity="warning", message=message, details=figures)

    def _absolute(self, curve: list[dict[str, Any]], metric: str) -> Check:
        """The opt-in fixed limit: the metric drop at every level up to ``gate_levels_up_to``."""
        limit = float(self.max_drop or 0.0)
        gated = [p for p in curve if p["level"] <= self.gate_levels_up_to]
        bad = [p for p in gated if p["drop"] > limit]
        shown = ", ".join(f"{p['level']:g}: {p['drop']:+.4f}" for p in curve)
        if bad:
            worst = max(bad, key=lambda p: p["drop"])
            message = (f"{metric} drops by {worst['drop']:.4f} at noise level {worst['level']:g} "
                       f"(max_drop {limit}); drop per level {shown}")
        else:
            message = (f"largest {metric} drop {max((p['drop'] for p in gated), default=0):.4f} at levels "
                       f"<= {self.gate_levels_up_to:g} (max_drop {limit}); drop per level {shown}")
        return self.result(not bad, message, observed={p["level"]: round(p["drop"], 6) for p in curve},
                           expected={"max_drop": limit, "levels_up_to": self.gate_levels_up_to})


def _blame(by_feature: dict[str, float]) -> str:
    """Where the excess comes from, and what to do about it, for the message."""
    top = [(c, v) for c, v in by_feature.items() if v > 0][:3]
    if not top:
        return ""
    named = ", ".join(f"{c!r} {v:+.3f}" for c, v in top)
    return (f". Excess with noise on one feature alone: {named}. If that noise is more than those "
            "features' real error, lower `level` under gates.test.robustness; else try a smoother model "
            "(a random forest, or boosting with a larger min_samples_leaf)")


class _Noise:
    """Seeded Gaussian noise scaled to each numeric feature's std, and category swaps."""

    def __init__(self, scale: dict[str, float], levels: dict[str, np.ndarray], swap: bool,
                 kept: dict[str, np.ndarray] | None = None) -> None:
        self.scale, self.levels, self.swap, self.kept = scale, levels, swap, kept or {}

    @classmethod
    def of(cls, subject: Subject, X: pd.DataFrame, swap: bool) -> _Noise:
        basis = subject.reference if subject.reference is not None else subject.X
        numeric = [c for c in C.numeric_columns(X) if c in basis.columns]
        scale = {c: float(np.nan_to_num(basis[c].astype(float).std())) for c in numeric}
        levels = C.category_levels(basis, [c for c in C.categorical_columns(X) if c in basis.columns])
        return cls(scale, levels, swap, C.atoms(basis, numeric))

    def only(self, column: str) -> _Noise:
        """The same noise on ``column`` alone."""
        return _Noise({column: self.scale[column]} if column in self.scale else {},
                      {column: self.levels[column]} if column in self.levels else {}, self.swap, self.kept)

    def draw(self, X: pd.DataFrame, level: float, rng: np.random.Generator) -> pd.DataFrame:
        noisy = C.add_noise(X, self.scale, level, rng, self.kept)
        return C.swap_categories(noisy, self.levels, level, rng) if self.swap else noisy


class _Output:
    """What is compared per row, the same way for the model and the reference.

    Classifiers with probabilities: half the squared distance between the clean and the noisy
    probability vectors (for a binary model, the squared change of the positive class's
    probability; 1 is a confident answer turned around). Labels only: 1 where the label flips.
    Regression: the squared change over twice the target's variance (1: as far apart as the
    targets of two random rows).
    """

    def __init__(self, kind: str, spread: float) -> None:
        self.kind, self.spread = kind, spread
        self.unit = {"proba": "mean squared probability change", "label": "share of flipped labels",
                     "value": "mean squared prediction change (x 2 var(target))"}[kind]

    @classmethod
    def of(cls, subject: Subject, y: np.ndarray) -> _Output:
        if not subject.is_classifier:
            return cls("value", max(2.0 * float(np.var(np.asarray(y, dtype=float))), 1e-12))
        return cls("proba" if hasattr(subject.estimator, "predict_proba") else "label", 1.0)

    def __call__(self, model: Any, X: pd.DataFrame) -> np.ndarray:
        if self.kind == "proba":
            return np.asarray(model.predict_proba(X), dtype=float)
        return np.asarray(model.predict(X))

    def change(self, noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
        if self.kind == "proba":
            return 0.5 * ((noisy - clean) ** 2).sum(axis=1)
        if self.kind == "label":
            return (noisy != clean).astype(float)
        return (noisy.astype(float) - clean.astype(float)) ** 2 / self.spread


def _change(pred: np.ndarray, clean: np.ndarray, subject: Subject, y: np.ndarray) -> np.ndarray:
    """Per row, for the reported curve: 1.0 where a label flipped; for regression |change| / the target's std."""
    if subject.is_classifier:
        return (pred != clean).astype(float)
    spread = float(np.std(np.asarray(y, dtype=float))) or 1.0
    return np.abs(pred.astype(float) - clean.astype(float)) / spread


class _Reference:
    """A fitted linear pipeline (or two, cross-fitted), with what it is and where it was fitted."""

    def __init__(self, models: list[tuple[Any, np.ndarray]], name: str, fitted_on: str) -> None:
        self.models, self.reference_name, self.fitted_on = models, name, fitted_on

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._each(X, "predict")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._each(X, "predict_proba")

    def _each(self, X: pd.DataFrame, method: str) -> np.ndarray:
        parts = [(rows, np.asarray(getattr(model, method)(X[rows] if not rows.all() else X)))
                 for model, rows in self.models]
        out = np.empty((len(X), *parts[0][1].shape[1:]), dtype=parts[0][1].dtype)
        for rows, values in parts:
            out[rows] = values
        return out


def _fit_reference(subject: Subject, X: pd.DataFrame, y: np.ndarray) -> _Reference | str:
    """A logistic regression (ridge for regression) on the model's columns, fitted on the training
    rows when known, else cross-fitted on the test rows (two halves, each predicted by the other's
    fit); a reason string when none can be fitted."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    name = "ridge regression" if not subject.is_classifier else "logistic regression"

    def model() -> Any:
        return Ridge(alpha=1.0) if not subject.is_classifier else LogisticRegression(max_iter=1000)

    def fit(frame: pd.DataFrame, target: np.ndarray) -> Any:
        features = feature_set(frame.assign(**{"__target__": 0}), "__target__")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return build_pipeline(features, model()).fit(frame[features.columns], target)

    try:
        train = subject.training_rows()
        if train is not None and len(train[0]) >= 20:
            frame, target = train
            frame = frame[[c for c in X.columns]]
            if len(frame) > REFERENCE_FIT_ROWS:
                pick = np.sort(np.random.default_rng(subject.seed + 7).choice(len(frame), REFERENCE_FIT_ROWS,
                                                                              replace=False))
                frame, target = frame.iloc[pick], np.asarray(target)[pick]
            everywhere = np.ones(len(X), dtype=bool)
            return _Reference([(fit(frame, np.asarray(target)), everywhere)], name,
                              f"{len(frame)} training rows")
        if len(X) < 40:
            return f"{len(X)} test rows and no training rows: too few to fit a linear reference"
        half = np.random.default_rng(subject.seed + 7).permutation(len(X)) < len(X) // 2
        models = [(fit(X[~half], y[~half]), half), (fit(X[half], y[half]), ~half)]
        classes = [list(getattr(m, "classes_", [])) for m, _ in models]
        if classes[0] != classes[1]:
            return "a class is missing from one half of the test rows, which the linear reference is fitted on"
        return _Reference(models, name, f"the test rows, cross-fitted in two halves ({len(X)} rows)")
    except (ValueError, TypeError, ArithmeticError) as exc:  # one class in a half, no usable column
        return f"the linear reference could not be fitted ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"


def _interval(diff: np.ndarray, alpha: float) -> tuple[float, float]:
    """The two-sided (1 - 2 alpha) t interval of the mean difference (its lower end is the one-sided bound)."""
    from scipy.stats import t

    n = len(diff)
    se = float(np.std(diff, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    half = float(t.ppf(1 - alpha, n - 1)) * se if n > 1 else float("nan")
    mean = float(diff.mean())
    return mean - half, mean + half


def _drop(baseline: float, value: float, loss: bool) -> float:
    """How much worse ``value`` is than ``baseline``: a score's fall, a loss's relative rise.

    A score (roc_auc 0.90 -> 0.86) drops by 0.04; a loss has the target's units, so its rise is
    read against its own size (rmse 10 -> 11 drops by 0.10). A perfect baseline loss (0) falls
    back to the absolute rise.
    """
    if not loss:
        return baseline - value
    return (value - baseline) / baseline if baseline else value - baseline


def _curve_figure(curve: list[dict[str, Any]], metric: str, baseline: float, max_drop: float | None):  # type: ignore[no-untyped-def]

    fig = new_figure()
    ax = fig.add_subplot()
    levels = [0.0] + [p["level"] for p in curve]
    ax.plot(levels, [baseline] + [p[metric] for p in curve], marker="o")
    if max_drop is not None:
        ax.axhline(baseline - max_drop, color="tab:red", linestyle="--", label=f"baseline - {max_drop}")
        ax.legend(loc="lower left")
    ax.set_xlabel("noise level (x feature std; share of categories swapped)")
    ax.set_ylabel(metric)
    return to_figure(fig, "Robustness curve", f"{metric} under increasing input noise (reported, not gated)")
