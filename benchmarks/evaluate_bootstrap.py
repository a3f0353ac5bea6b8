"""Benchmark mlgate's bootstrap confidence intervals against a scikit-learn resampling loop.

    python benchmarks/evaluate_bootstrap.py                 # 4k and 20k test rows
    python benchmarks/evaluate_bootstrap.py --rows 4000 --sklearn-resamples 200

What a user would otherwise write (the seed's ``evaluate.py`` has no intervals at all) is a
loop: draw row indices with replacement, call scikit-learn's metric functions on the
resample, take percentiles. mlgate computes the same fourteen binary metrics as weighted
sums over a matrix of draw counts. Both sides use the SAME draws (the generator of
``mlgate.metrics.bootstrap_weights`` replayed), so the benchmark also checks that every
resampled value agrees. The scikit-learn loop runs ``--sklearn-resamples`` resamples and its
time is scaled linearly to ``--resamples`` (each resample costs the same); the ratio is
reported on that basis.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def predictions(rows: int, seed: int = 11):  # type: ignore[no-untyped-def]
    """A logistic churn model's predictions on ``rows`` test rows."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlgate.examples.churn import generate
    from mlgate.metrics import predict

    frame = generate(5000 + rows, seed=seed)
    x, y = frame.drop(columns=["target", "customer_id"]), frame["target"]
    pre = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")))
    model = make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(x[:5000], y[:5000])
    return predict(model, x[5000:], y[5000:], "binary")


def sklearn_values(p, idx: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from sklearn import metrics as skm

    y, pred, proba = p.y[idx], p.pred[idx], p.proba[idx]
    out = {"accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred, zero_division=0),
           "recall": skm.recall_score(y, pred, zero_division=0), "f1": skm.f1_score(y, pred, zero_division=0)}
    for kind in ("precision", "recall", "f1"):
        for avg in ("weighted", "macro"):
            out[f"{kind}_{avg}"] = getattr(skm, f"{kind}_score")(y, pred, average=avg, zero_division=0)
    out["roc_auc"] = skm.roc_auc_score(y, proba[:, 1])
    out["pr_auc"] = skm.average_precision_score(y, proba[:, 1])
    out["log_loss"] = skm.log_loss(y, proba, labels=[0, 1])
    out["brier"] = skm.brier_score_loss(y, proba[:, 1])
    return out


def replay_draws(n: int, n_boot: int, seed: int) -> list[np.ndarray]:
    """The row indices mlgate.metrics.bootstrap_weights draws, resample by resample."""
    from mlgate.metrics import _CHUNK_CELLS

    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // n))
    draws: list[np.ndarray] = []
    while len(draws) < n_boot:
        b = min(chunk, n_boot - len(draws))
        draws.extend(rng.integers(0, n, size=(b, n)))
    return draws


def run(rows: int, resamples: int, sk_resamples: int, seed: int = 42) -> dict[str, object]:
    from mlgate.metrics import bootstrap, interval, usable_metrics

    p = predictions(rows)
    names = usable_metrics(p)
    t0, c0 = time.perf_counter(), time.process_time()
    ours = bootstrap([p], names, resamples, seed)[0]
    intervals = {k: interval(v) for k, v in ours.items()}
    mlgate_s, mlgate_cpu = time.perf_counter() - t0, time.process_time() - c0

    draws = replay_draws(p.n, resamples, seed)[:sk_resamples]
    t0, c0 = time.perf_counter(), time.process_time()
    theirs = [sklearn_values(p, idx) for idx in draws]
    sk_s = (time.perf_counter() - t0) * resamples / sk_resamples
    sk_cpu = (time.process_time() - c0) * resamples / sk_resamples
    worst = max(abs(float(ours[k][i]) - theirs[i][k]) for i in range(sk_resamples) for k in names)
    return {"rows": rows, "resamples": resamples, "metrics": len(names), "mlgate_s": round(mlgate_s, 3),
            "sklearn_loop_s": round(sk_s, 2), "sklearn_resamples_timed": sk_resamples,
            "ratio": round(sk_s / mlgate_s, 1), "mlgate_cpu_s": round(mlgate_cpu, 3),
            "sklearn_loop_cpu_s": round(sk_cpu, 2), "cpu_ratio": round(sk_cpu / mlgate_cpu, 1),
            "max_abs_difference": worst,
            "roc_auc_interval": [round(v, 4) for v in intervals["roc_auc"]]}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")),
               platform.processor())
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[4000, 20000])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--sklearn-resamples", type=int, default=100)
    args = parser.parse_args()
    print(machine(), f"load average {os.getloadavg()[0]:.1f}")
    for rows in args.rows:
        print(json.dumps(run(rows, args.resamples, args.sklearn_resamples)))


if __name__ == "__main__":
    main()
