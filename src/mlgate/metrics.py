"""Model metrics as weighted sums, so one code path gives point estimates and bootstraps.

Every metric is a function of a weight matrix ``W`` of shape (B, n): row b holds how often
each of the n test rows was drawn in bootstrap resample b (a row of ones is the plain
estimate). Writing metrics as weighted sums turns 1000 resamples into a few matrix
products instead of 1000 calls of scikit-learn, and gives every metric of two models the
same resamples (a paired bootstrap) for free.

This is the one metric table and the one engine of mlgate: train's selection, tuning, the
model tests, evaluate and compare all compute here, so a name means one formula everywhere.
``f1``, ``precision`` and ``recall`` are the positive class's (binary only, scikit-learn's
default ``average="binary"``); ``*_weighted`` and ``*_macro`` name the averages.

The point estimates equal scikit-learn's (``accuracy_score``, ``precision_recall_fscore_support``,
``roc_auc_score`` (one-vs-rest macro for several classes), ``average_precision_score``,
``log_loss``, ``brier_score_loss``, ``root_mean_squared_error``, ``mean_absolute_error``,
``r2_score``); the unit tests check that. Macro averages run over every class the model
knows, and a metric that is undefined on the rows (an AUC with one class present) is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.errors import DataError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Keep each chunk of the weight matrix near 16 MB whatever the number of rows.
_CHUNK_CELLS = 2_000_000


@dataclass
class Predictions:
    """One model's outputs on a test set, in the form the metric functions read.

    For classification ``y`` and ``pred`` are class indices into ``classes`` and ``proba``
    is (n, K) or None when the model has no ``predict_proba``; for regression they are
    the true and predicted values.
    """

    task: str
    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None = None
    classes: list[Any] = field(default_factory=list)
    # business metrics (mlgate.evaluation.business): each row's cost of the model's answer and
    # of the baseline's (a constant answer, or the production model's)
    costs: np.ndarray | None = None
    baseline_costs: np.ndarray | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def subset(self, mask: np.ndarray) -> Predictions:
        """The predictions of the rows where ``mask`` is true."""
        proba = None if self.proba is None else self.proba[mask]
        costs = None if self.costs is None else self.costs[mask]
        base = None if self.baseline_costs is None else self.baseline_costs[mask]
        return Predictions(self.task, self.y[mask], self.pred[mask], proba, self.classes, costs, base)

    def onehot(self, which: str) -> np.ndarray:
        """(n, K) indicator of the true (``y``) or predicted (``pred``) class, cached."""
        import numpy as np

        key = f"onehot_{which}"
        if key not in self._cache:
            codes = self.y if which == "y" else self.pred
            self._cache[key] = np.eye(len(self.classes))[codes]
        return self._cache[key]  # type: ignore[no-any-return]

    def ranking(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Order of rows by the score of class k (ascending), tie-group starts, positives."""
        import numpy as np

        key = f"rank_{k}"
        if key not in self._cache:
            assert self.proba is not None
            score = self.proba[:, k]
            order = np.argsort(score, kind="mergesort")
            sorted_score = score[order]
            starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
            positive = (self.y[order] == k).astype(float)
            self._cache[key] = (order, starts, positive)
        return self._cache[key]  # type: ignore[no-any-return]


def predict(estimator: Any, features: pd.DataFrame, target: pd.Series, task: str) -> Predictions:
    """Run a model on test rows and encode its outputs for the metrics."""
    import numpy as np

    try:
        if task == "regression":
            pred = np.asarray(estimator.predict(features), dtype=float).ravel()
            return Predictions(task, np.asarray(target, dtype=float), pred)
        known = getattr(estimator, "classes_", None)
        if hasattr(estimator, "predict_proba") and known is not None:
            # the most probable class is what predict() returns for scikit-learn classifiers
            proba = np.asarray(estimator.predict_proba(features), dtype=float)
            classes = list(known)
            return Predictions(task, _codes(target, classes, "the test target"),
                               proba.argmax(axis=1), proba, classes)
        labels = np.asarray(estimator.predict(features)).ravel()
    except Exception as exc:  # a model can raise anything on rows it does not fit
        raise ModelLoadError(f"the model cannot predict on the test rows: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    classes = sorted(set(np.asarray(target).tolist()) | set(labels.tolist()), key=str)
    return Predictions(task, _codes(target, classes, "the test target"),
                       _codes(labels, classes, "the model's predictions"), proba, classes)


def outputs(task: str, y: Any, pred: Any, proba: np.ndarray | None = None,
            classes: Any = None) -> Predictions:
    """Predictions from a model's outputs already at hand (labels, and probabilities per class)."""
    import numpy as np

    if task == "regression":
        return Predictions(task, np.asarray(y, dtype=float), np.asarray(pred, dtype=float).ravel())
    known = list(classes) if classes is not None else sorted(set(np.asarray(y).tolist())
                                                               | set(np.asarray(pred).tolist()), key=str)
    codes = _codes(y, known, "the test target")
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        return Predictions(task, codes, proba.argmax(axis=1), proba, known)
    return Predictions(task, codes, _codes(pred, known, "the model's predictions"), None, known)


def scores(estimator: Any, features: pd.DataFrame, target: Any, task: str) -> dict[str, float]:
    """Every metric of the task for a fitted model on these rows (train's validation metrics)."""
    return compute(predict(estimator, features, target, task))


def scorer(task: str, metric: str, classes: Any = None) -> Callable[[Any, Any, Any], float]:
    """``score(estimator, X, y) -> float`` where higher is better (a loss is negated)."""
    import numpy as np

    sign = 1.0 if greater_is_better(metric) else -1.0
    needs_proba = METRICS[metric].needs_proba

    def score(estimator: Any, X: Any, y: Any) -> float:
        if task == "regression":
            return sign * compute(outputs(task, y, estimator.predict(X)), [metric])[metric]
        proba = np.asarray(estimator.predict_proba(X)) if needs_proba else None
        pred = None if proba is not None else estimator.predict(X)
        return sign * compute(outputs(task, y, pred, proba, classes), [metric])[metric]

    return score


def encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class positions of labels ``y`` in ``classes``; -1 for a label not among them."""
    import numpy as np

    order = np.argsort(classes)
    found = np.searchsorted(classes[order], y)
    found = np.clip(found, 0, len(classes) - 1)
    codes = order[found]
    return np.where(classes[codes] == y, codes, -1)  # type: ignore[no-any-return]


def _codes(values: Any, classes: list[Any], what: str) -> np.ndarray:
    import numpy as np

    index = {_plain(c): i for i, c in enumerate(classes)}
    out = np.empty(len(values), dtype=np.int64)
    unknown: set[Any] = set()
    for i, v in enumerate(np.asarray(values).tolist()):
        code = index.get(_plain(v))
        if code is None:
            unknown.add(v)
            code = 0
        out[i] = code
    if unknown:
        raise DataError(f"{what} holds labels the model does not know: "
                        f"{sorted(map(str, unknown))[:5]} (model classes: {classes})")
    return out


def _plain(value: Any) -> Any:
    """Compare labels by value: numpy ints, Python ints and equal strings match."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ---- metric functions: (Predictions, W (B, n)) -> values (B,) ----------------------------


def _total(p: Predictions, w: np.ndarray) -> np.ndarray:
    return w.sum(axis=1)


def _accuracy(p: Predictions, w: np.ndarray) -> np.ndarray:
    return w @ (p.y == p.pred).astype(float) / _total(p, w)


def _per_chunk(p: Predictions, w: np.ndarray) -> dict[str, Any]:
    """A cache of intermediate sums shared by the metrics of one weight chunk."""
    if p._cache.get("chunk_w") is not w:
        p._cache["chunk_w"] = w
        p._cache["chunk"] = {}
    return p._cache["chunk"]  # type: ignore[no-any-return]


def _confusion(p: Predictions, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true positives, support and predicted counts per class, each (B, K)."""
    cache = _per_chunk(p, w)
    if "confusion" not in cache:
        truth, guess = p.onehot("y"), p.onehot("pred")
        cache["confusion"] = (w @ (truth * guess), w @ truth, w @ guess)
    return cache["confusion"]  # type: ignore[no-any-return]


def _grouped(p: Predictions, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted positives and negatives per distinct score of class k, lowest score first."""
    import numpy as np

    cache = _per_chunk(p, w)
    key = f"grouped_{k}"
    if key not in cache:
        order, starts, positive = p.ranking(k)
        wo = w[:, order]
        pos = wo * positive
        neg = wo - pos
        if starts.size < p.n:  # merge tied scores; without ties each row is its own group
            pos, neg = np.add.reduceat(pos, starts, axis=1), np.add.reduceat(neg, starts, axis=1)
        cache[key] = (pos, neg)
    return cache[key]  # type: ignore[no-any-return]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    import numpy as np

    # scikit-learn's zero_division default: an undefined ratio counts as 0
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def class_scores(kind: str, tp: np.ndarray, support: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-class precision, recall or F1 from true-positive, support and predicted counts."""
    if kind == "precision":
        return _ratio(tp, predicted)
    if kind == "recall":
        return _ratio(tp, support)
    # 2PR/(P+R) written on the counts: equal, and defined (0) when P+R is 0
    return _ratio(2 * tp, support + predicted)


def _per_class(kind: str, p: Predictions, w: np.ndarray) -> np.ndarray:
    return class_scores(kind, *_confusion(p, w))


def _averaged(kind: str, average: str) -> Callable[[Predictions, np.ndarray], np.ndarray]:
    def metric(p: Predictions, w: np.ndarray) -> np.ndarray:
        values = _per_class(kind, p, w)
        if average == "binary":
            return values[:, 1]  # type: ignore[no-any-return]
        if average == "macro":
            return values.mean(axis=1)  # type: ignore[no-any-return]
        support = w @ p.onehot("y")
        return (values * support).sum(axis=1) / support.sum(axis=1)  # type: ignore[no-any-return]

    return metric


def _auc_one(p: Predictions, w: np.ndarray, k: int) -> np.ndarray:
    """Weighted ROC-AUC of class k against the rest (ties count one half)."""
    import numpy as np

    pos, neg = _grouped(p, w, k)
    below = np.cumsum(neg, axis=1) - neg
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg)  # type: ignore[no-any-return]


def _ap_one(p: Predictions, w: np.ndarray, k: int) -> np.ndarray:
    """Weighted average precision of class k: sum of precision times recall increments."""
    import numpy as np

    pos, neg = _grouped(p, w, k)
    pos, neg = pos[:, ::-1], neg[:, ::-1]  # highest scores first
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        return np.nansum(pos * precision, axis=1) / pos.sum(axis=1)  # type: ignore[no-any-return]


MetricFn = Callable[["Predictions", "np.ndarray"], "np.ndarray"]


def _ranked(one: Callable[[Predictions, np.ndarray, int], np.ndarray]) -> MetricFn:
    def metric(p: Predictions, w: np.ndarray) -> np.ndarray:
        import numpy as np

        if len(p.classes) == 2:
            return one(p, w, 1)
        return np.mean([one(p, w, k) for k in range(len(p.classes))], axis=0)  # type: ignore[no-any-return]

    return metric


def log_loss_terms(proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-row log loss: minus the log of the probability given to the true class.

    The probability is clipped to [eps, 1 - eps] of float64, as scikit-learn's ``log_loss``
    does, so a confident wrong answer of a tree costs the same here as there.
    """
    import numpy as np

    eps = np.finfo(np.float64).eps
    return -np.log(np.clip(proba[np.arange(len(codes)), codes], eps, 1 - eps))  # type: ignore[no-any-return]


def _log_loss(p: Predictions, w: np.ndarray) -> np.ndarray:
    assert p.proba is not None
    return w @ log_loss_terms(p.proba, p.y) / _total(p, w)  # type: ignore[no-any-return]


def _brier(p: Predictions, w: np.ndarray) -> np.ndarray:
    assert p.proba is not None
    return w @ (p.proba[:, 1] - (p.y == 1)) ** 2 / _total(p, w)  # type: ignore[no-any-return]


def _rmse(p: Predictions, w: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.sqrt(w @ (p.pred - p.y) ** 2 / _total(p, w))  # type: ignore[no-any-return]


def _mae(p: Predictions, w: np.ndarray) -> np.ndarray:
    import numpy as np

    return w @ np.abs(p.pred - p.y) / _total(p, w)  # type: ignore[no-any-return]


def _r2(p: Predictions, w: np.ndarray) -> np.ndarray:
    import numpy as np

    total = _total(p, w)
    residual = w @ (p.pred - p.y) ** 2
    spread = w @ p.y**2 - (w @ p.y) ** 2 / total
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - residual / spread  # type: ignore[no-any-return]


def _expected_cost(p: Predictions, w: np.ndarray) -> np.ndarray:
    assert p.costs is not None
    return w @ p.costs / _total(p, w)  # type: ignore[no-any-return]


def _savings(p: Predictions, w: np.ndarray) -> np.ndarray:
    assert p.costs is not None and p.baseline_costs is not None
    return w @ (p.baseline_costs - p.costs) / _total(p, w)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Metric:
    """A metric: its name, the tasks it applies to, its direction and its function."""

    name: str
    tasks: tuple[str, ...]
    fn: Callable[[Predictions, np.ndarray], np.ndarray]
    greater_is_better: bool = True
    needs_proba: bool = False
    needs_costs: bool = False  # a business metric: only with a cost matrix in the config


_BIN, _MULTI, _CLS, _REG = ("binary",), ("multiclass",), ("binary", "multiclass"), ("regression",)

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", _CLS, _accuracy),
    Metric("precision", _BIN, _averaged("precision", "binary")),
    Metric("recall", _BIN, _averaged("recall", "binary")),
    Metric("f1", _BIN, _averaged("f1", "binary")),
    Metric("precision_weighted", _CLS, _averaged("precision", "weighted")),
    Metric("recall_weighted", _CLS, _averaged("recall", "weighted")),
    Metric("f1_weighted", _CLS, _averaged("f1", "weighted")),
    Metric("precision_macro", _CLS, _averaged("precision", "macro")),
    Metric("recall_macro", _CLS, _averaged("recall", "macro")),
    Metric("f1_macro", _CLS, _averaged("f1", "macro")),
    Metric("roc_auc", _CLS, _ranked(_auc_one), needs_proba=True),
    Metric("pr_auc", _CLS, _ranked(_ap_one), needs_proba=True),
    Metric("log_loss", _CLS, _log_loss, greater_is_better=False, needs_proba=True),
    Metric("brier", _BIN, _brier, greater_is_better=False, needs_proba=True),
    Metric("rmse", _REG, _rmse, greater_is_better=False),
    Metric("mae", _REG, _mae, greater_is_better=False),
    Metric("r2", _REG, _r2),
    Metric("expected_cost", (*_CLS, *_REG), _expected_cost, greater_is_better=False, needs_costs=True),
    Metric("savings", (*_CLS, *_REG), _savings, needs_costs=True),
)}

# The headline metric of each task: it picks train's best candidate, guides tuning, is the
# key figure of train, test and evaluate, compare's decisive metric and the test gate's
# tracked figure, unless the config names another.
HEADLINE = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "rmse"}

# Names whose formula changed: the key a config should use for the old meaning.
RENAMED = {"precision": "precision_weighted", "recall": "recall_weighted", "f1": "f1_weighted",
           "roc_auc_ovr": "roc_auc"}


def renamed_message(name: str) -> str | None:
    """Why a threshold name is no longer accepted, naming the key to use; None when it is fine."""
    new = RENAMED.get(name)
    if new is None:
        return None
    if name == "roc_auc_ovr":
        return f"'{name}' is now '{new}' (one-vs-rest macro ROC-AUC for several classes): rename the key"
    return (f"'{name}' here meant the support-weighted average and now means the positive class's "
            f"{name} (binary only), as in evaluate and scikit-learn: write '{new}' for the old meaning")


def metric_names(task: str, has_proba: bool = True, has_costs: bool = False) -> list[str]:
    """The metrics that apply to a task (and to a model with or without probabilities, costs)."""
    return [m.name for m in METRICS.values() if task in m.tasks and (has_proba or not m.needs_proba)
            and (has_costs or not m.needs_costs)]


def headline_metric(task: str, has_proba: bool = True) -> str:
    """The headline metric of a task: roc_auc, f1_macro or rmse (accuracy without probabilities)."""
    name = HEADLINE[task]
    return name if name in metric_names(task, has_proba) else "accuracy"


def greater_is_better(name: str) -> bool:
    """Whether a higher value of a metric is better (loss and error metrics: no)."""
    metric = METRICS.get(name)
    return True if metric is None else metric.greater_is_better


def usable_metrics(p: Predictions) -> list[str]:
    return metric_names(p.task, p.proba is not None, p.costs is not None and p.baseline_costs is not None)


def compute(p: Predictions, names: list[str] | None = None) -> dict[str, float]:
    """Point estimates of the named metrics (default: all that apply)."""
    import numpy as np

    ones = np.ones((1, p.n))
    return {name: _clean(float(METRICS[name].fn(p, ones)[0])) for name in names or usable_metrics(p)}


def _clean(value: float) -> float:
    return value if math.isfinite(value) else float("nan")


def bootstrap_weights(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Chunks of the (n_boot, n) matrix of resampling counts, drawn with one seeded generator."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        # float32 holds these counts exactly and halves the memory traffic of every metric
        yield np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float32)
        done += b


def bootstrap(models: list[Predictions], names: list[str], n_boot: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Bootstrap distributions of each metric for each model, on the same resamples."""
    import numpy as np

    n = models[0].n
    if any(m.n != n for m in models):
        raise ValueError("paired bootstrap needs predictions on the same rows")
    parts: list[dict[str, list[np.ndarray]]] = [{name: [] for name in names} for _ in models]
    for w in bootstrap_weights(n, n_boot, seed):
        for model, out in zip(models, parts, strict=True):
            for name in names:
                out[name].append(METRICS[name].fn(model, w))
    return [{name: np.concatenate(v) if v else np.empty(0) for name, v in out.items()} for out in parts]


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring resamples where a metric is undefined."""
    import numpy as np

    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
