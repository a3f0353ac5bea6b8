"""Feature importance (bootstrap permutation importance, its stability) and interpretability (SHAP or that)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mlgate.errors import MissingDependency
from mlgate.metrics import headline_metric
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.modeltests.columns import categorical_columns
from mlgate.modeltests.permutation import Importance, Stability, correlated_groups, permutation_importance
from mlgate.reports.figures import new_figure, to_figure
from mlgate.reports.model import Check


def _importance_metric(subject: Subject, metric: str | None) -> str:
    """``metric``, else the task's headline metric (the one train selects on and evaluate reports)."""
    return metric or headline_metric(subject.task, hasattr(subject.estimator, "predict_proba"))


class FeatureImportance(ModelCheck):
    """Permutation importance over bootstrap resamples: is the top of the ranking stable
    relative to its own size (coefficient of variation), and does one feature carry it all?"""

    name: ClassVar[str] = "feature_importance"
    n_bootstrap: int = Field(10, ge=2, description="bootstrap resamples of the test rows")
    n_rows: int = Field(1000, ge=10, description="rows per resample (a seeded subsample)")
    metric: str | None = Field(None, description="default: the task's headline metric (roc_auc, f1_macro, "
                               "rmse; accuracy without probabilities)")
    top_k: int = Field(3, ge=1, description="top entries whose stability is reported")
    max_cv: float = Field(0.5, gt=0, description="largest std / mean of the top entry's importance")
    alpha: float = Field(0.05, gt=0, lt=1, description="the CV must be significantly above max_cv to fail")
    min_rows: int = Field(200, ge=10, description="below this, an unstable top is undecided, not failed")
    group_correlated: float | None = Field(0.7, gt=0, le=1,
                                           description="|Spearman rho| that groups features; null: no groups")
    max_std: float | None = Field(None, ge=0, description="optional absolute bound on any importance's std")
    max_single_share: float = Field(0.8, gt=0, le=1, description="largest share of one feature")
    single_share_severity: Literal["error", "warning"] = Field(
        "warning", description="one dominant feature is worth a look (a strong driver and a proxy of the "
        "target look the same), a warning unless set to error")

    def run(self, subject: Subject) -> Outcome:
        metric = _importance_metric(subject, self.metric)
        imp = permutation_importance(subject, n_bootstrap=self.n_bootstrap, n_rows=self.n_rows, metric=metric)
        units = imp
        if self.group_correlated is not None:
            # the training rows, when known, estimate the correlations better than a small test set
            basis = subject.reference if subject.reference is not None else subject.X
            groups = correlated_groups(basis[list(subject.X.columns)], self.group_correlated)
            if any(len(g) > 1 for g in groups):
                units = permutation_importance(subject, n_bootstrap=self.n_bootstrap, n_rows=self.n_rows,
                                               metric=metric, groups=groups)
        st = units.stability(self.top_k)
        shares = imp.shares()
        top_share = float(shares.max(initial=0.0))
        cv, top = st.cv[0], st.top[0]
        problems, undecided = [], None
        p_cv = _cv_p_value(cv, self.max_cv, self.n_bootstrap)
        if cv > self.max_cv and p_cv < self.alpha:
            spread = (f"importance of {top!r} varies by {_pct(cv)} of its size across {self.n_bootstrap} "
                      f"resamples of {imp.rows} rows (limit {self.max_cv:.0%}; above it with p={p_cv:.2g})")
            if imp.rows < self.min_rows:
                need = max(self.min_rows, _rows_needed(imp.rows, cv, self.max_cv))
                undecided = f"undecided: {spread}; about {need} test rows would decide"
            else:
                problems.append(f"unstable ranking: {spread}")
        if self.max_std is not None and float(imp.std.max(initial=0.0)) > self.max_std:
            worst = imp.features[int(np.argmax(imp.std))]
            problems.append(f"importance of {worst!r}: std {float(imp.std.max()):.4f} (limit {self.max_std})")
        above = _share_above(imp, self.max_single_share)
        dominant = None
        if top_share > self.max_single_share and above >= 0.9:  # material, and in nearly every resample
            dominant = (f"{imp.features[int(np.argmax(shares))]!r} carries {top_share:.0%} of the importance "
                        f"(limit {self.max_single_share:.0%}; above it in {above:.0%} of the resamples): worth a "
                        "look, since a strong legitimate driver and a proxy of the target (leakage) look the "
                        "same here")
        details = _details(imp, units, st, shares, self)
        figures = [_bars(imp)]
        observed = {"top": top, "cv": _finite(cv), "cv_p_value": p_cv, "top_k_agreement": st.agreement,
                    "max_share": top_share}
        expected = {"max_cv": self.max_cv, "alpha": self.alpha, "max_single_share": self.max_single_share}
        concentration = []
        if dominant is not None:
            level = "warning" if self.severity == "warning" else self.single_share_severity
            hint = "" if level == "error" else " (a warning; `single_share_severity: error` makes it block)"
            concentration = [Check(name=self.name, passed=False, severity=level, message=dominant + hint,
                                   observed=observed, expected=expected, details={"kind": "concentration"})]
        if undecided and not problems:
            row = Check(name=self.name, passed=True, severity="warning", message=undecided,
                        observed=observed, expected=expected)
            return Outcome(checks=[row, *concentration], details=details, figures=figures,
                           skipped=not concentration)
        head = ", ".join(f"{f} {m:.3f}±{s:.3f}" for f, m, s in units.ranked()[:3])
        message = "; ".join(problems) if problems else (
            f"top {head}; {top!r} varies by {_pct(cv)} of its size across {self.n_bootstrap} resamples "
            f"(limit {self.max_cv:.0%}{_noise_note(cv, self.max_cv, p_cv)}); "
            f"top-{len(st.top)} agreement {st.agreement:.2f}; top share "
            f"{top_share:.0%} (limit {self.max_single_share:.0%})")
        row = self.result(not problems, message, observed=observed, expected=expected)
        return Outcome(checks=[row, *concentration], details=details, figures=figures)


def _details(imp: Importance, units: Importance, st: Stability, shares: np.ndarray,
             check: FeatureImportance) -> dict[str, Any]:
    ranked = imp.ranked()
    return {"metric": imp.metric, "rows": imp.rows, "n_bootstrap": check.n_bootstrap,
            "importances": [{"feature": f, "mean": m, "std": s, "share": float(shares[imp.features.index(f)])}
                            for f, m, s in ranked],
            "groups": None if units is imp else [{"name": n, "members": g, "mean": float(units.mean[i]),
                                                  "std": float(units.std[i])}
                                                 for i, (n, g) in enumerate(zip(units.features, units.members or [],
                                                                                strict=True))],
            "stability": {"top": st.top, "cv": [_finite(c) for c in st.cv], "kept_in_top_k": st.kept,
                          "top_k_overlap": st.overlap, "chance_overlap": st.chance, "agreement": st.agreement,
                          "kendall_tau": st.kendall_tau}}


def _share_above(imp: Importance, limit: float) -> float:
    """Share of the resamples in which the top feature (by mean) carries more than ``limit``.

    A share a little above the limit in the mean is often noise at a few hundred rows (a clean
    model with coefficients 2, 1 and 0.6 crossed 80% on one seed of ten), so it fails only when
    nearly every resample agrees.
    """
    pos = np.clip(imp.matrix, 0, None)
    totals = pos.sum(axis=1)
    top = int(np.argmax(imp.shares())) if len(imp.features) else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_resample = np.where(totals > 0, pos[:, top] / np.where(totals > 0, totals, 1), 0.0)
    return float(np.mean(per_resample > limit)) if len(per_resample) else 0.0


def _noise_note(cv: float, limit: float, p: float) -> str:
    return f"; above it within the resampling noise, p={p:.2g}" if cv > limit else ""


def _cv_p_value(cv: float, limit: float, resamples: int) -> float:
    """P-value of "the top entry's CV is at most ``limit``", from the resamples' spread.

    An std from B resamples is itself noisy (with 5 resamples a true CV of 0.5 reads above
    0.6 about a third of the time), so the CV must be significantly above the limit:
    ``(B - 1) * cv**2 / limit**2`` against chi-square with B - 1 degrees of freedom (the
    sample variance of normal draws, the mean taken as known).
    """
    from scipy.stats import chi2

    if not np.isfinite(cv):
        return 0.0
    return float(chi2.sf((resamples - 1) * cv**2 / limit**2, resamples - 1))


def _rows_needed(rows: int, cv: float, limit: float) -> int:
    """The bootstrap std of a mean-like figure shrinks as 1/sqrt(n): rows for cv to reach limit."""
    if not np.isfinite(cv):
        return rows * 100
    return int(np.ceil(rows * (cv / limit) ** 2))


def _pct(cv: float) -> str:
    return "more than 100x" if not np.isfinite(cv) else f"{cv:.0%}"


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


class Interpretability(ModelCheck):
    """Explanations exist and no forbidden feature (an id, a protected attribute) leads them."""

    name: ClassVar[str] = "interpretability"
    method: str = Field("auto", pattern="^(auto|shap|permutation)$")
    top_k: int = Field(5, ge=1)
    forbidden_top_features: list[str] = Field(default_factory=list,
                                              description="features that must not be in the top k")
    n_rows: int = Field(100, ge=10, description="rows explained by SHAP")

    def run(self, subject: Subject) -> Outcome:
        method, note = self.method, ""
        ranked: list[tuple[str, float]] = []
        if method in ("auto", "shap"):
            try:
                ranked = _shap_ranking(subject, self.n_rows, agnostic=method == "shap")
                method = "shap"
            except ImportError:
                if method == "shap":
                    raise MissingDependency("shap", "shap", "interpretability method 'shap'") from None
                method = "permutation"
            except Exception as exc:  # shap cannot explain this model: fall back, say why
                if method == "shap":
                    raise
                note = f"shap failed ({type(exc).__name__}: {exc}); "
                method = "permutation"
        if method == "permutation":
            imp = permutation_importance(subject, n_bootstrap=10, n_rows=1000,
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


def _shap_ranking(subject: Subject, n_rows: int, agnostic: bool) -> list[tuple[str, float]]:
    """Mean |SHAP| per raw input feature, with the explainer that fits the model.

    Trees (a tree ensemble, alone or as a pipeline's last step) get ``TreeExplainer`` and
    linear models ``LinearExplainer``, on the pipeline's transformed matrix, with the
    values of encoded columns (one-hot, ...) summed back to the input feature they come
    from. Anything else gets the model-agnostic permutation explainer on 30 rows, and only
    with ``method: shap``: it costs seconds per row on slow models, so ``auto`` falls back to
    permutation importance. Raises ImportError without shap.
    """
    import shap

    X = subject.X.iloc[subject.sample(n_rows, salt=8)]
    est = subject.estimator
    prep, final = _split_pipeline(est)
    kind = _model_kind(final)
    if kind != "other":
        Z = _dense(prep.transform(X)) if prep is not None else X.to_numpy(dtype=float)
        names = _output_names(prep, list(X.columns), Z.shape[1])
        if kind == "tree":
            raw = shap.TreeExplainer(final).shap_values(Z, check_additivity=False)
        else:
            raw = shap.LinearExplainer(final, Z[: min(100, len(Z))]).shap_values(Z)
        values = _mean_abs(raw)
        totals = dict.fromkeys(X.columns, 0.0)
        for name, value in zip(names, values, strict=True):
            totals[_source_feature(name, list(X.columns))] += float(value)
        return sorted(totals.items(), key=lambda kv: -kv[1])
    if not agnostic:  # seconds per row on slow models: only when asked for by method: shap
        raise LookupError(f"no tree or linear SHAP explainer fits a {type(final).__name__}")
    X = X.iloc[: min(len(X), 30)]  # the permutation explainer costs ~features x rows x 50 calls
    codec = _Codec(subject.reference if subject.reference is not None else subject.X)
    if subject.is_classifier and hasattr(est, "predict_proba"):
        def fn(z: np.ndarray) -> np.ndarray:
            return np.asarray(est.predict_proba(codec.decode(z)))[:, -1]
    else:
        def fn(z: np.ndarray) -> np.ndarray:
            return np.asarray(est.predict(codec.decode(z)), dtype=float)
    background = codec.encode(X.iloc[: min(20, len(X))])
    explainer = shap.Explainer(fn, shap.maskers.Independent(background, max_samples=20),
                               feature_names=list(X.columns))
    values = np.abs(np.asarray(explainer(codec.encode(X), silent=True).values, dtype=float)).mean(axis=0)
    order = np.argsort(-values)
    return [(str(X.columns[i]), float(values[i])) for i in order]


def _split_pipeline(est: Any) -> tuple[Any, Any]:
    steps = getattr(est, "steps", None)
    if steps:
        from sklearn.pipeline import Pipeline

        prep = Pipeline(steps[:-1]) if len(steps) > 1 else None
        return prep, steps[-1][1]
    return None, est


def _model_kind(final: Any) -> str:
    name = type(final).__name__
    if any(k in name for k in ("Forest", "Tree", "GradientBoosting", "XGB", "LGBM")):
        return "tree"
    if hasattr(final, "coef_") and "SVC" not in name:
        return "linear"
    return "other"


def _dense(Z: Any) -> np.ndarray:
    return np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z, dtype=float)


def _output_names(prep: Any, inputs: list[str], width: int) -> list[str]:
    if prep is None:
        return inputs
    try:
        names = [str(n) for n in prep.get_feature_names_out()]
    except Exception:  # a step without get_feature_names_out: no mapping back
        names = []
    if len(names) != width:
        raise ValueError("cannot map the pipeline's output columns back to its input features")
    return names


def _source_feature(name: str, inputs: list[str]) -> str:
    """``cat__contract_month-to-month`` -> ``contract``: the longest input name it starts with."""
    bare = name.split("__", 1)[1] if "__" in name else name
    matches = [f for f in inputs if bare == f or bare.startswith(f"{f}_")]
    if not matches:
        raise ValueError(f"output column {name!r} matches no input feature")
    return max(matches, key=len)


def _mean_abs(raw: Any) -> np.ndarray:
    """Mean |SHAP| per column; for several outputs (classes) summed over them."""
    arr = np.asarray(raw if not isinstance(raw, list) else np.stack(raw, axis=-1), dtype=float)
    values = np.abs(arr).mean(axis=0)
    return values.sum(axis=-1) if values.ndim > 1 else values


class _Codec:
    """Frame <-> float matrix: numbers as they are, other columns as codes of their values."""

    def __init__(self, frame: Any) -> None:
        import pandas as pd

        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes
        self.levels = {c: pd.unique(frame[c].dropna().to_numpy()) for c in categorical_columns(frame)}

    def encode(self, frame: Any) -> np.ndarray:
        import pandas as pd

        out = np.empty((len(frame), len(self.columns)))
        for j, col in enumerate(self.columns):
            if col in self.levels:
                codes = pd.Index(self.levels[col]).get_indexer(frame[col].to_numpy())
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = frame[col].to_numpy(dtype=float, na_value=np.nan)
        return out

    def decode(self, z: np.ndarray) -> Any:
        import pandas as pd

        data = {}
        for j, col in enumerate(self.columns):
            v = z[:, j]
            if col in self.levels:
                levels = self.levels[col]
                picked = levels[np.nan_to_num(v, nan=0).astype(int).clip(0, len(levels) - 1)]
                data[col] = pd.Series(np.where(np.isnan(v), None, picked), dtype=object)
                if pd.api.types.is_bool_dtype(self.dtypes[col]) and not np.isnan(v).any():
                    data[col] = data[col].astype(bool)
            elif pd.api.types.is_integer_dtype(self.dtypes[col]) and not np.isnan(v).any():
                data[col] = np.round(v).astype(self.dtypes[col])
            else:
                data[col] = v
        return pd.DataFrame(data)


def _bars(imp: Importance):  # type: ignore[no-untyped-def]

    ranked = imp.ranked()[:15][::-1]
    fig = new_figure(5.5, 0.3 * len(ranked) + 1.2)
    ax = fig.add_subplot()
    ax.barh([f for f, _, _ in ranked], [m for _, m, _ in ranked], xerr=[s for _, _, s in ranked],
            capsize=3, color="tab:blue")
    ax.set_xlabel(f"drop in {imp.metric} when shuffled (mean ± std over resamples)")
    return to_figure(fig, "Permutation importance", f"{imp.rows} rows, bootstrap resamples")
