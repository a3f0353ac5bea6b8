"""Benchmark the model test suite (`mlgate test`, all ten checks) against Deepchecks.

    python benchmarks/model_tests.py                                   # mlgate + fairness
    python benchmarks/model_tests.py --deepchecks-python /tmp/dcvenv/bin/python

The data is the churn example: 25k training rows and a 100k-row test set, a gradient
boosting pipeline (one-hot + HistGradientBoostingClassifier, 200 iterations, seeded). Each
side runs in its own child process (this script with ``--worker``) and trains the same
pipeline itself from the same CSV files, because the two environments need different
scikit-learn versions (Deepchecks 0.19 imports only with scikit-learn < 1.6 and NumPy < 2);
only the suite itself is timed:

* ``mlgate``: ``mlgate.modeltests.run`` with the defaults (all ten checks, reference data,
  the protected attribute ``gender``), so including the retraining of the reproducibility
  check.
* ``deepchecks``: ``deepchecks.tabular.suites.model_evaluation()`` on the same train and
  test datasets and model, with its defaults.
* ``fairness``: the per-group figures on 1M predictions, mlgate's numpy against fairlearn's
  ``MetricFrame`` plus ``equalized_odds_difference`` and ``demographic_parity_difference``;
  the values are compared for equality.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

FEATURE_DROP = ["customer_id", "target"]


def prepare(folder: Path, train_rows: int, test_rows: int) -> None:
    """Write train.csv and test.csv of the churn example (once)."""
    from mlgate.examples.churn import generate

    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "test.csv").exists():
        with open(folder / "test.csv") as fh:
            if sum(1 for _ in fh) == test_rows + 1:
                return
    frame = generate(train_rows + test_rows, seed=11)
    frame.iloc[:train_rows].to_csv(folder / "train.csv", index=False)
    frame.iloc[train_rows:].to_csv(folder / "test.csv", index=False)


def _fit(train):  # type: ignore[no-untyped-def]
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    cats = make_column_selector(dtype_include=[object, "string", bool])
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cats)],
                            remainder="passthrough")
    model = Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.08, random_state=42))])
    return model.fit(train.drop(columns=FEATURE_DROP), train["target"])


def _read(folder: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")


def worker_mlgate(folder: Path) -> dict[str, object]:
    import mlgate.modeltests as mt

    train, test = _read(folder)
    model = _fit(train)
    t0, c0 = time.perf_counter(), time.process_time()
    report = mt.run(model, test.drop(columns=["customer_id"]),
                    {"performance": {"accuracy": 0.7, "roc_auc": 0.7}},
                    reference=train.drop(columns=["customer_id"]), protected=["gender"])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "cpu_s": cpu, "key_figure": report.key_figure, "timings": report.extras["timings_s"],
            "checks": len(report.extras["families"]), "test_rows": len(test)}


def worker_deepchecks(folder: Path) -> dict[str, object]:
    import warnings

    warnings.filterwarnings("ignore")
    import deepchecks
    from deepchecks.tabular import Dataset
    from deepchecks.tabular.suites import model_evaluation

    train, test = _read(folder)
    model = _fit(train)
    import pandas as pd

    cats = [c for c in train.columns if c not in FEATURE_DROP and (
        pd.api.types.is_bool_dtype(train[c]) or not pd.api.types.is_numeric_dtype(train[c]))]
    kw = {"label": "target", "cat_features": cats}
    ds_train = Dataset(train.drop(columns=["customer_id"]), **kw)
    ds_test = Dataset(test.drop(columns=["customer_id"]), **kw)
    t0, c0 = time.perf_counter(), time.process_time()
    result = model_evaluation().run(train_dataset=ds_train, test_dataset=ds_test, model=model)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "cpu_s": cpu, "version": deepchecks.__version__, "checks": len(result.results),
            "test_rows": len(test)}


def worker_fairness(rows: int) -> dict[str, object]:
    import numpy as np
    from fairlearn import metrics as flm

    from mlgate.modeltests import group_rates as F

    rng = np.random.default_rng(0)
    groups = rng.choice(["a", "b", "c", "d"], rows)
    y = (rng.random(rows) < 0.3).astype(int)
    pred = np.where(rng.random(rows) < 0.8, y, 1 - y)
    t0 = time.perf_counter()
    rates = F.group_rates(y, pred, groups)
    ours = (F.parity_difference(rates), F.equalized_odds_difference(rates), rates.tpr.copy())
    mlgate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = flm.MetricFrame(metrics={"selection_rate": flm.selection_rate,
                                     "tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
                            y_true=y, y_pred=pred, sensitive_features=groups)
    theirs = (flm.demographic_parity_difference(y, pred, sensitive_features=groups),
              flm.equalized_odds_difference(y, pred, sensitive_features=groups),
              frame.by_group["tpr"].reindex(rates.groups).to_numpy())
    fairlearn_s = time.perf_counter() - t0
    equal = (abs(ours[0] - theirs[0]) < 1e-12 and abs(ours[1] - theirs[1]) < 1e-12
             and bool(np.allclose(ours[2], theirs[2])))
    return {"rows": rows, "mlgate_s": mlgate_s, "fairlearn_s": fairlearn_s, "equal": equal}


def run_worker(python: str, kind: str, folder: Path, extra: list[str] | None = None) -> dict[str, object]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([python, __file__, "--worker", kind, "--dir", str(folder), *(extra or [])],
                          capture_output=True, text=True, timeout=900, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def machine() -> str:
    with open("/proc/cpuinfo") as fh:
        cpu = next((line.split(":", 1)[1].strip() for line in fh
                    if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mlgate-bench-modeltests"))
    parser.add_argument("--train-rows", type=int, default=25_000)
    parser.add_argument("--test-rows", type=int, default=100_000)
    parser.add_argument("--fairness-rows", type=int, default=1_000_000)
    parser.add_argument("--deepchecks-python", default=None)
    parser.add_argument("--worker", default=None)
    args = parser.parse_args()
    if args.worker == "mlgate":
        print(json.dumps(worker_mlgate(args.dir)))
        return
    if args.worker == "deepchecks":
        print(json.dumps(worker_deepchecks(args.dir)))
        return
    if args.worker == "fairness":
        print(json.dumps(worker_fairness(args.fairness_rows)))
        return
    prepare(args.dir, args.train_rows, args.test_rows)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    mine = run_worker(sys.executable, "mlgate", args.dir)
    print(f"mlgate test, {args.test_rows} test rows: {json.dumps(mine)}")
    if args.deepchecks_python:
        theirs = run_worker(args.deepchecks_python, "deepchecks", args.dir)
        print(f"deepchecks model_evaluation: {json.dumps(theirs)}")
        if "seconds" in mine and "seconds" in theirs:
            wall = float(theirs["seconds"]) / float(mine["seconds"])  # type: ignore[arg-type]
            cpu = float(theirs["cpu_s"]) / float(mine["cpu_s"])  # type: ignore[arg-type]
            print(f"ratio deepchecks / mlgate: {wall:.1f}x wall, {cpu:.1f}x CPU")
    fair = run_worker(sys.executable, "fairness", args.dir, ["--fairness-rows", str(args.fairness_rows)])
    print(f"fairness figures: {json.dumps(fair)}")
    if "mlgate_s" in fair:
        print(f"ratio fairlearn / mlgate: {float(fair['fairlearn_s']) / float(fair['mlgate_s']):.0f}x")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
