"""Permutation importance with bootstrap re-sampling, one batched predict per resample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlgate import metrics as M
from mlgate.modeltests.base import Subject
from mlgate.modeltests.columns import numeric_columns


@dataclass
class Importance:
    """Per-feature metric drops: ``matrix[b, f]`` for bootstrap resample ``b``."""

    features: list[str]
    matrix: np.ndarray
    metric: str
    rows: int
    members: list[list[str]] | None = None  # the columns behind each entry, when grouped

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

    def stability(self, top_k: int) -> Stability:
        """How well the top ``k`` of the mean ranking hold across the resamples."""
        return stability(self.matrix, self.features, top_k)


@dataclass
class Stability:
    """Stability of a top-k importance ranking across bootstrap resamples.

    ``overlap`` is the mean share of the top k (by mean importance) that is also in a resample's
    own top k; a ranking drawn at random keeps ``k / features`` of it, so ``agreement`` rescales
    the overlap to 0 at chance and 1 when every resample has the same top k (a chance-corrected
    figure, like Cohen's kappa, so 5 features and 50 are judged on one scale). ``cv`` is each top
    feature's std across resamples over its mean: its noise relative to its own size.
    ``kendall_tau`` is the mean Kendall tau between each resample's ranking of the top k and
    the mean ranking (scipy's tau-b), for the report.
    """

    top: list[str]
    cv: list[float]
    kept: list[float]  # per top feature: share of resamples that keep it in their top k
    overlap: float
    chance: float
    agreement: float
    kendall_tau: float | None


def stability(matrix: np.ndarray, features: list[str], top_k: int) -> Stability:
    """Top-k stability of an importance matrix ``[resample, feature]`` (see ``Stability``)."""
    from scipy.stats import kendalltau

    n_features = matrix.shape[1]
    k = max(1, min(top_k, n_features))
    mean, std = matrix.mean(axis=0), matrix.std(axis=0, ddof=1) if len(matrix) > 1 else np.zeros(n_features)
    top = np.argsort(-mean, kind="stable")[:k]
    own = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    in_top = np.isin(own, top)  # [resample, rank]: is that resample's feature one of the mean's top k
    kept = [float(np.mean([t in row for row in own])) for t in top]
    overlap = float(in_top.mean())
    chance = k / n_features
    agreement = 1.0 if chance >= 1 else (overlap - chance) / (1 - chance)
    taus = []
    for row in matrix:
        if np.ptp(row[top]) > 0 and k > 1:
            taus.append(kendalltau(mean[top], row[top]).statistic)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean[top] > 0, std[top] / mean[top], np.inf)
    return Stability(top=[features[i] for i in top], cv=[float(c) for c in cv], kept=kept, overlap=overlap,
                     chance=chance, agreement=float(agreement),
                     kendall_tau=float(np.nanmean(taus)) if taus else None)


def correlated_groups(frame: pd.DataFrame, threshold: float) -> list[list[str]]:
    """Columns in groups whose every pair has |Spearman rho| >= ``threshold`` (complete linkage).

    Shuffling one of two near-copies leaves the model its twin, so each looks unimportant and
    their ranking flips at random between resamples; shuffled together, the group's importance
    is what the model really draws from them (scikit-learn's user guide does the same for
    multicollinear features). Non-numeric columns and constant columns stay alone.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    numeric = [c for c in numeric_columns(frame) if frame[c].nunique(dropna=True) > 1]
    alone = [[c] for c in frame.columns if c not in numeric]
    if len(numeric) < 2 or threshold >= 1:
        return [[c] for c in numeric] + alone
    rho = np.nan_to_num(frame[numeric].corr(method="spearman").to_numpy(), nan=0.0)
    distance = np.clip(1 - np.abs(rho), 0, None)
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(linkage(squareform(distance, checks=False), method="complete"), t=1 - threshold,
                      criterion="distance")
    groups: dict[int, list[str]] = {}
    for col, label in zip(numeric, labels, strict=True):
        groups.setdefault(int(label), []).append(col)
    return list(groups.values()) + alone


def permutation_importance(subject: Subject, *, n_bootstrap: int, n_rows: int, metric: str,
                           salt: int = 3, groups: list[list[str]] | None = None) -> Importance:
    """Bootstrap the test rows ``n_bootstrap`` times; in each resample shuffle every feature once.

    With ``groups``, the columns of a group are shuffled together (one permutation of the rows
    for all of them) and the group is one entry, named ``"first (+2 correlated)"``. All shuffled
    copies of a resample go through the model in one ``predict`` call, which costs far less
    than one call per feature on models with per-call overhead (pipelines).
    """
    key = ("importance", n_bootstrap, n_rows, metric, None if groups is None else tuple(map(tuple, groups)))
    if key in subject.cache:
        return subject.cache[key]  # type: ignore[no-any-return]
    rng = np.random.default_rng(subject.seed + salt)
    base_rows = subject.sample(n_rows, salt=salt)
    X_all, y_all = subject.X.iloc[base_rows].reset_index(drop=True), subject.y[base_rows]
    units = groups if groups is not None else [[c] for c in X_all.columns]
    score = M.scorer(subject.task, metric, subject.classes)
    matrix = np.zeros((n_bootstrap, len(units)))
    n = len(X_all)
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, n)  # a bootstrap resample: rows drawn with replacement
        Xb, yb = X_all.iloc[idx].reset_index(drop=True), y_all[idx]
        copies = []
        for unit in units:
            shuffled = Xb.copy()
            order = rng.permutation(n)
            for f in unit:
                shuffled[f] = Xb[f].to_numpy()[order]
            copies.append(shuffled)
        stacked = pd.concat([Xb, *copies], ignore_index=True)
        scores = _chunk_scores(subject, score, stacked, np.tile(yb, len(units) + 1), n)
        matrix[b] = scores[0] - scores[1:]
    names = [u[0] if len(u) == 1 else f"{u[0]} (+{len(u) - 1} correlated)" for u in units]
    result = Importance(features=names, matrix=matrix, metric=metric, rows=n, members=[list(u) for u in units])
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
