"""False-fail rate and power of the feature_importance check at its defaults.

Clean models: 10 independent features, the target depends on f0 > f1 > f2 (a linear model
and gradient boosting). Unstable rankings: the same models fitted to a target that depends on
nothing. Test sets of 400 and 4,000 rows, ``--seeds`` seeds each (default 20). ``--task``:
binary (default), multiclass (three classes) or regression; the check scores each with the
task's headline metric (roc_auc, f1_macro, rmse).

    nice .venv/bin/python benchmarks/importance_stability.py --seeds 20 [--task multiclass]
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from mlgate.modeltests import run

FEATURES = [f"f{i}" for i in range(10)]


def _table(n: int, seed: int, signal: float, task: str = "binary") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 10)), columns=FEATURES)
    score = signal * (2.0 * frame.f0 + 1.0 * frame.f1 + 0.6 * frame.f2)
    if task == "regression":
        frame["target"] = score + rng.normal(size=n)
    elif task == "multiclass":  # three classes cut from the score plus logistic noise
        frame["target"] = np.digitize(score + rng.logistic(size=n), [-1.0, 1.0])
    else:
        frame["target"] = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(int)
    return frame


MODELS = {
    "binary": {"logistic": lambda: LogisticRegression(),
               "gradient-boosting": lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0)},
    "regression": {"ridge": lambda: Ridge(),
                   "gradient-boosting": lambda: HistGradientBoostingRegressor(max_iter=30, random_state=0)},
}
MODELS["multiclass"] = MODELS["binary"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--task", choices=sorted(MODELS), default="binary")
    args = parser.parse_args()
    models = MODELS[args.task]
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"task {args.task}")
    print("| target | model | test rows | failed | top CV median | top CV 95% |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(1):
        for signal, label in ((1.0, "depends on f0-f2"), (0.0, "noise")):
            for name, make in models.items():
                for n in (400, 4000):
                    failed, cvs = 0, []
                    for seed in range(args.seeds):
                        train = _table(2000, seed, signal, args.task)
                        test = _table(n, seed + 1000, signal, args.task)
                        model = make().fit(train[FEATURES], train["target"])
                        report = run(model, test, checks=["feature_importance"])
                        failed += not report.passed
                        cv = report.extras["details"]["feature_importance"]["stability"]["cv"][0]
                        cvs.append(np.inf if cv is None else cv)
                    print(f"| {label} | {name} | {n} | {failed}/{args.seeds} | {np.median(cvs):.2f} | "
                          f"{np.quantile(cvs, 0.95):.2f} |", flush=True)


if __name__ == "__main__":
    main()
