"""Train a matrix of candidates on one validation split and pick the best.

What the final model is trained on: the train table minus a seeded validation split
(``VALIDATION_FRACTION``, stratified for classification). The model that is saved is
exactly the model whose validation metrics are reported; nothing is refit afterwards, so
the metrics describe the saved model and the test table stays unseen for ``evaluate``.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import split_frame
from mlgate.errors import ConfigError
from mlgate.metrics import greater_is_better, headline_metric, scores
from mlgate.train.preprocess import FeatureSet, build_pipeline
from mlgate.train.zoo import build_estimator

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import ModelSpec

VALIDATION_FRACTION = 0.2


@dataclass
class Candidate:
    """One model to train: a zoo type, its label and hyper-parameters."""

    label: str
    model_type: str
    params: dict[str, Any]
    tuned: bool = False
    estimator: Any = None


@dataclass
class Trained:
    """A fitted candidate with its validation metrics (or the error that stopped it)."""

    candidate: Candidate
    pipeline: Any = None
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0
    run_id: str | None = None
    error: str | None = None


def make_candidates(specs: list[ModelSpec], task: str, seed: int,
                    tuned: dict[str, Any] | None = None, root: Path | None = None) -> list[Candidate]:
    """Build (and so check) every candidate's estimator before any training starts.

    ``tuned`` is the content of a tune stage's ``best_params.yaml``: its params override
    the configured ones of every candidate of its model type.
    """
    if not specs:
        raise ConfigError("models: the list of model candidates is empty; add at least one type")
    labels = [s.label for s in specs]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"models: candidate names must be unique; '{dupes[0]}' appears twice "
                          "(give each a `name:`)")
    out = []
    with project_on_path(root):
        for spec in specs:
            params = dict(spec.params)
            is_tuned = tuned is not None and tuned.get("model_type") == spec.type
            if tuned is not None and is_tuned:
                params.update(tuned.get("params") or {})
            estimator = build_estimator(spec.type, task, params, seed, spec.label)
            out.append(Candidate(spec.label, spec.type, params, is_tuned, estimator))
    return out


@contextlib.contextmanager
def project_on_path(root: Path | None) -> Iterator[None]:
    """Let a custom factory ``module:function`` import from the project folder."""
    if root is None or str(root) in sys.path:
        yield
        return
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(root))


def validation_split(frame: pd.DataFrame, target: str, task: str, seed: int,
                     fraction: float = VALIDATION_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split of the train table, stratified on the target for classification."""
    return split_frame(frame, target, fraction, seed, classes=task != "regression")


def fit_candidate(candidate: Candidate, features: FeatureSet, task: str,
                  fit: pd.DataFrame, val: pd.DataFrame, target: str) -> Trained:
    """Fit one candidate's pipeline and score it on the validation rows."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    pipeline = build_pipeline(features, clone(candidate.estimator))
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            # A neural network stopping at max_iter is reported by its metrics, not a warning.
            # One OpenMP/BLAS thread: OpenMP on busy cores (other jobs, parallel workers) is
            # many times slower than one thread; forests still use n_jobs (joblib threads).
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(fit[features.columns], fit[target])
            metrics = scores(pipeline, val[features.columns], val[target], task)
    except (ValueError, TypeError, ArithmeticError, MemoryError) as exc:
        return Trained(candidate, error=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
                       fit_seconds=round(time.perf_counter() - t0, 3))
    return Trained(candidate, pipeline, metrics, round(time.perf_counter() - t0, 3))


def pick_best(results: list[Trained], task: str) -> Trained | None:
    """The candidate with the best selection metric; the first one on a tie."""
    name = headline_metric(task)
    if not any(name in r.metrics for r in results if r.error is None):
        name = headline_metric(task, has_proba=False)  # no candidate gives probabilities
    greater = greater_is_better(name)
    scored = [r for r in results if r.error is None and name in r.metrics]
    if not scored:
        return None
    sign = 1.0 if greater else -1.0
    return max(scored, key=lambda r: (sign * r.metrics[name], -results.index(r)))


def train_all(candidates: list[Candidate], features: FeatureSet, task: str, fit: pd.DataFrame,
              val: pd.DataFrame, target: str,
              on_done: Callable[[int, Trained], None] | None = None,
              on_start: Callable[[int, Candidate], None] | None = None) -> list[Trained]:
    """Fit every candidate in order; ``on_start``/``on_done`` see each one (progress, tracking)."""
    results = []
    for i, candidate in enumerate(candidates):
        if on_start:
            on_start(i, candidate)
        result = fit_candidate(candidate, features, task, fit, val, target)
        if on_done:
            on_done(i, result)
        results.append(result)
    return results
