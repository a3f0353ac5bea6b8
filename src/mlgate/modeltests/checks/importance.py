"""Feature importance (bootstrap permutation importance) and interpretability (SHAP or that)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlgate.modeltests import metrics as M
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.modeltests.importance import Importance, permutation_importance


def _importance_metric(subject: Subject, metric: str | None) -> str:
    if metric:
        return metric
    if subject.task == "binary" and hasattr(subject.estimator, "predict_proba"):
        return "roc_auc"  # smoother than accuracy, so small importances are not rounded away
    return M.default_metric(subject.task)


class FeatureImportance(ModelCheck):
    """Permutation importance over bootstrap resamples: stability (std) and max single share."""

    name: ClassVar[str] = "feature_importance"
    n_bootstrap: int = Field(5, ge=2, description="bootstrap resamples of the test rows")
    n_rows: int = Field(1000, ge=10, description="rows per resample (a seeded subsample)")
    metric: str | None = Field(None, description="default: roc_auc (binary), accuracy, r2")
    max_std: float = Field(0.05, ge=0, description="largest allowed std of an importance")
    max_single_share: float = Field(0.8, gt=0, le=1, description="largest share of one feature")

    def run(self, subject: Subject) -> Outcome:
        imp = permutation_importance(subject, n_bootstrap=self.n_bootstrap, n_rows=self.n_rows,
                                     metric=_importance_metric(subject, self.metric))
        shares = imp.shares()
        top = int(np.argmax(shares)) if len(shares) else 0
        max_std, top_share = float(imp.std.max(initial=0.0)), float(shares.max(initial=0.0))
        problems = []
        if max_std > self.max_std:
            worst = imp.features[int(np.argmax(imp.std))]
            problems.append(f"importance of {worst!r} unstable: std {max_std:.4f} across "
                            f"{self.n_bootstrap} resamples (limit {self.max_std})")
        if top_share > self.max_single_share:
            problems.append(f"{imp.features[top]!r} carries {top_share:.0%} of the importance "
                            f"(limit {self.max_single_share:.0%})")
        ranked = imp.ranked()
        head = ", ".join(f"{f} {m:.3f}±{s:.3f}" for f, m, s in ranked[:3])
        message = "; ".join(problems) if problems else (
            f"top features {head}; max std {max_std:.4f} (limit {self.max_std}), top share "
            f"{top_share:.0%} (limit {self.max_single_share:.0%})")
        details = {"metric": imp.metric, "rows": imp.rows, "n_bootstrap": self.n_bootstrap,
                   "importances": [{"feature": f, "mean": m, "std": s,
                                    "share": float(shares[imp.features.index(f)])}
                                   for f, m, s in ranked]}
        row = self.result(not problems, message,
                          observed={"max_std": max_std, "max_share": top_share},
                          expected={"max_std": self.max_std, "max_single_share": self.max_single_share})
        return Outcome(checks=[row], details=details, figures=[_bars(imp)])


class Interpretability(ModelCheck):
    """Explanations exist and no forbidden feature (an id, a protected attribute) leads them."""

    name: ClassVar[str] = "interpretability"
    method: str = Field("auto", pattern="^(auto|shap|permutation)$")
    top_k: int = Field(5, ge=1)
    forbidden_top_features: list[str] = Field(default_factory=list,
                                              description="features that must not be in the top k")
    n_rows: int = Field(200, ge=10, description="rows explained by SHAP")

    def run(self, subject: Subject) -> Outcome:
        method, note = self.method, ""
        ranked: list[tuple[str, float]] = []
        if method in ("auto", "shap"):
            try:
                ranked = _shap_ranking(subject, self.n_rows)
                method = "shap"
            except ImportError:
                if method == "shap":
                    from mlgate.errors import MissingDependency

                    raise MissingDependency("shap", "shap", "interpretability method 'shap'") from None
                method = "permutation"
            except Exception as exc:  # shap cannot explain this model: fall back, say why
                if method == "shap":
                    raise
                note = f"shap failed ({type(exc).__name__}: {exc}); "
                method = "permutation"
        if method == "permutation":
            imp = permutation_importance(subject, n_bootstrap=5, n_rows=1000,
                                         metric=_importance_metric(subject, None))
            ranked = [(f, m) for f, m, _ in imp.ranked()]
        top = [f for f, _ in ranked[: self.top_k]]
        bad = [f for f in top if f in self.forbidden_top_features]
        message = note + (f"forbidden feature(s) {bad} among the top {self.top_k} by {method}"
                          if bad else f"top {len(top)} features by {method}: {', '.join(top)}")
        details = {"method": method, "ranking": [{"feature": f, "value": v} for f, v in ranked]}
        row = self.result(not bad, message, observed=top,
                          expected={"not_in_top": self.forbidden_top_features})
        return Outcome(checks=[row], details=details)


def _shap_ranking(subject: Subject, n_rows: int) -> list[tuple[str, float]]:
    """Mean |SHAP| per input feature; the explainer shap picks for the model (tree, linear,
    or permutation over the raw rows for pipelines). Raises ImportError without shap."""
    import shap

    rows = subject.sample(n_rows, salt=8)
    X = subject.X.iloc[rows]
    est = subject.estimator
    if subject.is_classifier and hasattr(est, "predict_proba"):
        def fn(frame: Any) -> np.ndarray:
            return np.asarray(est.predict_proba(_as_frame(frame, X)))[:, -1]
    else:
        def fn(frame: Any) -> np.ndarray:
            return np.asarray(est.predict(_as_frame(frame, X)), dtype=float)
    background = X.iloc[: min(50, len(X))]
    explainer = shap.Explainer(fn, background)
    values = np.abs(np.asarray(explainer(X).values, dtype=float)).mean(axis=0)
    order = np.argsort(-values)
    return [(str(X.columns[i]), float(values[i])) for i in order]


def _as_frame(data: Any, like: Any) -> Any:
    import pandas as pd

    return data if isinstance(data, pd.DataFrame) else pd.DataFrame(data, columns=like.columns)


def _bars(imp: Importance):  # type: ignore[no-untyped-def]
    from mlgate.reports.figures import new_figure, to_figure

    ranked = imp.ranked()[:15][::-1]
    fig = new_figure(5.5, 0.3 * len(ranked) + 1.2)
    ax = fig.add_subplot()
    ax.barh([f for f, _, _ in ranked], [m for _, m, _ in ranked], xerr=[s for _, _, s in ranked],
            capsize=3, color="tab:blue")
    ax.set_xlabel(f"drop in {imp.metric} when shuffled (mean ± std over resamples)")
    return to_figure(fig, "Permutation importance", f"{imp.rows} rows, bootstrap resamples")
