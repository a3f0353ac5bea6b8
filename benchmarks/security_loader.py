"""Benchmark mlgate's fail-closed model loader against plain joblib.load and picklescan.

    python benchmarks/security_loader.py                 # 5 rounds
    python benchmarks/security_loader.py --rounds 9

A user who loads a model without mlgate calls ``joblib.load`` (no check at all); one who
wants a check first runs ``picklescan`` on the file. Measured in the same run, interleaved,
on two models, each saved with joblib and as a plain pickle: one-hot + histogram gradient
boosting (200 iterations) and a 200-tree random forest (about 13 MB):

* ``joblib.load`` : the unchecked load.
* ``mlgate load`` : ``mlgate.security.loader.load_file``: read, walk the opcodes, check the
  allow-list, then load from the same bytes with a guarded unpickler (picklescan's opinion
  included, as in every load).
* ``mlgate check`` : the same decision without loading (what ``mlgate scan`` does per file).
* ``picklescan`` : ``picklescan.scanner.scan_file_path`` on the same file.

Prints the medians and the ratios; times are wall-clock seconds per file.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def build_models(folder: Path) -> dict[str, Path]:
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 20_000
    x = pd.DataFrame({**{f"n{i}": rng.normal(size=n) for i in range(10)},
                      **{f"c{i}": rng.choice([f"v{k}" for k in range(20)], n) for i in range(3)}})
    y = (x.n0 + x.n1 * x.n2 + rng.normal(size=n) > 0).astype(int)
    pre = ColumnTransformer([("num", StandardScaler(), [f"n{i}" for i in range(10)]),
                             ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                              [f"c{i}" for i in range(3)])])
    models = {"hist_gbm": HistGradientBoostingClassifier(max_iter=200, early_stopping=False),
              "random_forest": RandomForestClassifier(n_estimators=200, max_depth=12, n_jobs=1, random_state=0)}
    paths = {}
    for name, model in models.items():
        path = folder / f"{name}.joblib"
        fitted = Pipeline([("pre", pre), ("model", model)]).fit(x, y)
        joblib.dump(fitted, path)
        paths[name] = path
        # a plain pickle too: picklescan walks a whole plain stream but stops at joblib's first array
        pkl = folder / f"{name}.pkl"
        pkl.write_bytes(pickle.dumps(fitted, protocol=5))
        paths[f"{name} (plain pickle)"] = pkl
    return paths


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import joblib
    from picklescan.scanner import scan_file_path

    from mlgate.security.allowlist import TrustPolicy
    from mlgate.security.loader import inspect_file, load_file

    policy = TrustPolicy()
    print(f"Machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_models(Path(tmp))
        for name, path in paths.items():
            tools: dict[str, Callable[[], Any]] = {
                "joblib.load": lambda p=path: joblib.load(p),
                "mlgate load": lambda p=path: load_file(p, policy),
                "mlgate check": lambda p=path: inspect_file(p, policy),
                "picklescan": lambda p=path: scan_file_path(str(p)),
            }
            for fn in tools.values():  # warm imports and caches once
                fn()
            times: dict[str, list[float]] = {k: [] for k in tools}
            for _ in range(args.rounds):
                for tool, fn in tools.items():
                    times[tool].append(timed(fn))
            med = {k: statistics.median(v) for k, v in times.items()}
            size = path.stat().st_size / 1e6
            print(f"\n{name} ({size:.1f} MB), median of {args.rounds}:")
            for tool, value in med.items():
                print(f"  {tool:13s} {value * 1000:8.1f} ms")
            print(f"  mlgate load / joblib.load = {med['mlgate load'] / med['joblib.load']:.2f}x; "
                  f"mlgate check / picklescan = {med['mlgate check'] / med['picklescan']:.2f}x")


if __name__ == "__main__":
    main()
