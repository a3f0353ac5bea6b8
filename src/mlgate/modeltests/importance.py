"""Permutation importance with bootstrap re-sampling, one batched predict per resample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlgate import metrics as M
from mlgate.modeltests.base import Subject


@dataclass
class Importance:
    """Per-feature metric drops: ``matrix[b, f]`` for bootstrap resample ``b``."""

    features: list[str]
    matrix: np.ndarray
    metric: str
    rows: int

    @property
    def mean(self) -> np.ndarray:
        return self.matrix.mean(axis=0)  # type: ignore[no-any-return]

    @property
    def std(self) -> np.ndarray:
        return self.matrix.std(axis=0, ddof=1) if len(self.matrix) > 1 else np.zeros(len(self.features))

    def shares(self) -> np.ndarray:
        """Each feature's share of the total positive importance."""
        pos = np.clip(self.mean, 0, None)
        return pos / pos.sum() if pos.sum() > 0 else pos

    def ranked(self) -> list[tuple[str, float, float]]:
        order = np.argsort(-self.mean)
        return [(self.features[i], float(self.mean[i]), float(self.std[i])) for i in order]


def permutation_importance(subject: Subject, *, n_bootstrap: int, n_rows: int, metric: str,
                           salt: int = 3) -> Importance:
    """Bootstrap the test rows ``n_bootstrap`` times; in each resample shuffle every feature once.

    All shuffled copies of a resample go through the model in one ``predict`` call, which
    costs far less than one call per feature on models with per-call overhead (pipelines).
    """
    key = ("importance", n_bootstrap, n_rows, metric)
    if key in subject.cache:
        return subject.cache[key]  # type: ignore[no-any-return]
    rng = np.random.default_rng(subject.seed + salt)
    base_rows = subject.sample(n_rows, salt=salt)
    X_all, y_all = subject.X.iloc[base_rows].reset_index(drop=True), subject.y[base_rows]
    features = list(X_all.columns)
    score = M.scorer(subject.task, metric, subject.classes)
    matrix = np.zeros((n_bootstrap, len(features)))
    n = len(X_all)
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, n)  # a bootstrap resample: rows drawn with replacement
        Xb, yb = X_all.iloc[idx].reset_index(drop=True), y_all[idx]
        copies = []
        for f in features:
            shuffled = Xb.copy()
            shuffled[f] = Xb[f].to_numpy()[rng.permutation(n)]
            copies.append(shuffled)
        stacked = pd.concat([Xb, *copies], ignore_index=True)
        scores = _chunk_scores(subject, score, stacked, np.tile(yb, len(features) + 1), n)
        matrix[b] = scores[0] - scores[1:]
    result = Importance(features=features, matrix=matrix, metric=metric, rows=n)
    subject.cache[key] = result
    return result


def _chunk_scores(subject: Subject, score, X: pd.DataFrame, y: np.ndarray, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Score each consecutive block of ``n`` rows, from one prediction over all of them."""

    class _Cached:  # hands the scorer slices of one big prediction instead of re-predicting
        def __init__(self) -> None:
            self.full: dict[str, np.ndarray] = {}
            self.block = slice(0, n)

        def _get(self, method: str) -> np.ndarray:
            if method not in self.full:
                self.full[method] = np.asarray(getattr(subject.estimator, method)(X))
            return self.full[method][self.block]

        def predict(self, _X: object) -> np.ndarray:
            return self._get("predict")

        def predict_proba(self, _X: object) -> np.ndarray:
            return self._get("predict_proba")

    cached = _Cached()
    out = []
    for start in range(0, len(X), n):
        cached.block = slice(start, start + n)
        out.append(score(cached, None, y[start:start + n]))
    return np.array(out)
