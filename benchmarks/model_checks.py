"""False alarms and power of the model checks at their defaults, on messy tables, over many seeds.

    nice .venv/bin/python benchmarks/model_checks.py --seeds 50 --jobs 2
    .venv/bin/python benchmarks/model_checks.py --quick          # a few seeds, for development

Each seed draws one messy table (``false_alarms.messy``: text columns with 2, 10 and 50 levels,
missing values at 2%, 10% and 30%, a date column, a near-unique name column, heavy-tailed counts)
of ``n`` rows, splits it i.i.d. 75/25, and fits models the way the train stage does (mlgate's
preprocessing: median/constant imputation, scaling, one-hot encoding; the date and name columns
are text columns like any other). ``--task regression`` predicts a continuous score instead.

Healthy models (a failure is a false alarm): logistic regression / ridge, gradient boosting
(histogram, 100 rounds), a random forest (100 trees); all seeded. Deliberately flawed models, one
kind per check (a pass is a miss):

* robustness: 1-nearest-neighbour, an unpruned decision tree (the table plus ten pure-noise columns),
* feature_importance: any model on a target that depends on nothing (an unstable ranking);
  the concentration warning is counted apart, on a model fed a copy of the target with 5% noise,
* consistency: a model whose probabilities carry fresh random noise on every call,
* edge_cases: a model that raises on a missing value (no imputation),
* reproducibility: a random forest without random_state.

Each check runs alone through ``mlgate.modeltests.run`` with its default settings, the training
rows as reference (so reproducibility retrains on them; the models here carry no training record).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from false_alarms import machine, messy, split  # noqa: E402  (a sibling script)

CHECKS = ("robustness", "feature_importance", "consistency", "edge_cases", "reproducibility")
HEALTHY = ("linear", "gradient boosting", "random forest")
FLAWED = {"robustness": ("1-nearest-neighbour", "unpruned tree"), "feature_importance": ("noise target",),
          "consistency": ("random outputs",), "edge_cases": ("rejects NaN",),
          "reproducibility": ("unseeded forest",)}
SIZES = (400, 2000, 8000)
MIN_ROWS_IMPORTANCE = 200  # its rows for a verdict; fewer test rows give an "undecided" warning


class NoisyProba:
    """A classifier whose probabilities carry fresh noise on every call (a flawed model)."""

    def __init__(self, model: Any, rng: np.random.Generator) -> None:
        self.model, self.rng, self.classes_ = model, rng, model.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        p = np.clip(self.model.predict_proba(X) + self.rng.normal(0, 0.05, (len(X), len(self.classes_))), 1e-6, None)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class NoisyRegressor:
    """A regressor whose predictions carry fresh noise on every call (a flawed model)."""

    def __init__(self, model: Any, rng: np.random.Generator, spread: float) -> None:
        self.model, self.rng, self.spread = model, rng, spread

    def predict(self, X: Any) -> np.ndarray:
        return self.model.predict(X) + self.rng.normal(0, 0.05 * self.spread, len(X))


def _estimator(kind: str, task: str, seed: int) -> Any:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    reg = task == "regression"
    return {
        "linear": lambda: Ridge() if reg else LogisticRegression(max_iter=1000),
        "gradient boosting": lambda: (HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier)(
            random_state=seed),
        "random forest": lambda: (RandomForestRegressor if reg else RandomForestClassifier)(
            n_estimators=100, random_state=seed, n_jobs=1),
        "unseeded forest": lambda: (RandomForestRegressor if reg else RandomForestClassifier)(
            n_estimators=30, n_jobs=1),
        "1-nearest-neighbour": lambda: (KNeighborsRegressor if reg else KNeighborsClassifier)(n_neighbors=1),
        "unpruned tree": lambda: (DecisionTreeRegressor if reg else DecisionTreeClassifier)(random_state=seed),
    }[kind]()


def _fit(kind: str, train: pd.DataFrame, task: str, seed: int, impute: bool = True) -> Any:
    from mlgate.train.preprocess import build_pipeline, feature_set

    features = feature_set(train, "target")
    pipe = build_pipeline(features, _estimator(kind, task, seed))
    if not impute:  # the flawed edge-case model: no imputation, so a NaN reaches the estimator
        for _, step, _cols in pipe.named_steps["preprocess"].transformers:
            if hasattr(step, "steps"):
                step.steps = [s for s in step.steps if s[0] != "impute"]
        train = train.dropna()  # it learns on complete rows and meets a NaN only when tested
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipe.fit(train[features.columns], train["target"])


def _tables(n: int, seed: int, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng([n, seed, 7])
    frame = messy(n, rng)
    if task == "regression":  # a continuous target from the same columns
        visits = frame["visits"].astype(float).fillna(0.0)
        frame["target"] = (0.04 * (frame["age"] - 45) + 0.8 * (frame["plan"] == "premium")
                           + 0.3 * np.log1p(visits) + 0.5 * frame["region"].isin(["L00", "L03"])
                           + rng.normal(0, 1, n))
    return split(frame, rng)


def _noise_columns(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed + 99)
    extra = {f"noise{i}": None for i in range(10)}
    tr = train.assign(**{c: rng.normal(size=len(train)) for c in extra})
    te = test.assign(**{c: rng.normal(size=len(test)) for c in extra})
    return tr, te


OLD_RULE = False  # --old-rule: also count the absolute limit robustness had before (max_drop 0.05)


def _run(model: Any, test: pd.DataFrame, train: pd.DataFrame, check: str) -> tuple[bool, list[str]]:
    from mlgate.modeltests import run

    config = {"robustness": {"max_drop": 0.05}} if OLD_RULE and check == "robustness" else {}
    report = run(model, test, config, reference=train, target="target", checks=[check])
    if config:  # the new verdict from the first row, the old one from the second
        old = [c.message for c in report.failures if "drops by" in c.message]
        new = [c.message for c in report.failures if "drops by" not in c.message]
        return not new, new + [f"OLD RULE: {m}" for m in old]
    return report.passed, [c.message for c in report.checks if not c.passed]


def case(n: int, seed: int, task: str) -> dict[str, Any]:
    """Every check on the healthy and the flawed models of one seed: pass/fail and warnings."""
    from threadpoolctl import threadpool_limits

    out: dict[str, Any] = {"fails": Counter(), "warned": Counter(), "messages": [], "time": Counter()}
    train, test = _tables(n, seed, task)
    with threadpool_limits(1):
        healthy = {kind: _fit(kind, train, task, seed) for kind in HEALTHY}
        for check in CHECKS:
            for kind, model in healthy.items():
                t0 = time.perf_counter()
                passed, failed = _run(model, test, train, check)
                out["time"][check] += time.perf_counter() - t0
                out["fails"][f"{check}|{kind}"] += not passed
                if OLD_RULE and check == "robustness":
                    out["fails"][f"old rule|{kind}"] += any(m.startswith("OLD RULE") for m in failed)
                    failed = [m for m in failed if not m.startswith("OLD RULE")]
                if failed and not passed:
                    out["messages"].append(f"n={n} seed={seed} {check} {kind}: {failed[0][:300]}")
                if check == "feature_importance" and any("carries" in m for m in failed):
                    out["warned"][f"{check}|{kind}"] += 1
            for kind in FLAWED[check]:
                model, tr, te = _flawed(kind, train, test, task, seed)
                passed, failed = _run(model, te, tr, check)
                out["fails"][f"{check}|{kind}"] += not passed
                if OLD_RULE and check == "robustness":
                    out["fails"][f"old rule|{kind}"] += any(m.startswith("OLD RULE") for m in failed)
        if "feature_importance" not in CHECKS:
            return out
        # the concentration warning on a model fed a noisy copy of the target (a leak)
        leak = np.where(np.random.default_rng(seed).random(len(train)) < 0.05,
                        np.random.default_rng(seed + 1).permutation(train["target"].to_numpy()),
                        train["target"].to_numpy())
        tr = train.assign(leak=leak)
        te = test.assign(leak=test["target"].to_numpy())
        from mlgate.modeltests import run

        report = run(_fit("gradient boosting", tr, task, seed), te, {}, reference=tr, target="target",
                     checks=["feature_importance"])
        out["warned"]["feature_importance|leak"] += any("carries" in c.message for c in report.checks)
        out["fails"]["feature_importance|leak (blocks)"] += not report.passed
    return out


def _flawed(kind: str, train: pd.DataFrame, test: pd.DataFrame, task: str,
            seed: int) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    if kind in ("1-nearest-neighbour", "unpruned tree"):
        tr, te = _noise_columns(train, test, seed)
        return _fit(kind, tr, task, seed), tr, te
    if kind == "noise target":
        rng = np.random.default_rng(seed + 5)
        tr = train.assign(target=rng.permutation(train["target"].to_numpy()))
        te = test.assign(target=rng.permutation(test["target"].to_numpy()))
        return _fit("gradient boosting", tr, task, seed), tr, te
    if kind == "random outputs":
        model = _fit("linear", train, task, seed)
        rng = np.random.default_rng(seed)
        if task == "regression":
            return NoisyRegressor(model, rng, float(train["target"].std())), train, test
        return NoisyProba(model, rng), train, test
    if kind == "rejects NaN":
        return _fit("linear", train, task, seed, impute=False), train, test
    return _fit("unseeded forest", train, task, seed), train, test


def _chunk(n: int, seeds: list[int], task: str, log: str | None = None) -> dict[str, Any]:
    total: dict[str, Any] = {"fails": Counter(), "warned": Counter(), "messages": [], "time": Counter()}
    for seed in seeds:
        part = case(n, seed, task)
        if log:  # one line per seed, so an interrupted run still counts what it finished
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"task": task, "n": n, "seed": seed, "fails": part["fails"],
                                     "warned": part["warned"], "messages": part["messages"]}) + "\n")
        for key in ("fails", "warned", "time"):
            total[key].update(part[key])
        total["messages"] += part["messages"]
    return total


def cell(n: int, seeds: int, task: str, jobs: int, log: str | None = None, first: int = 0) -> dict[str, Any]:
    parts = [list(range(first + i, first + seeds, jobs)) for i in range(jobs)]
    if jobs == 1:
        counts = [_chunk(n, parts[0], task, log)]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            counts = list(pool.map(_chunk, [n] * jobs, parts, [task] * jobs, [log] * jobs))
    fails = sum((c["fails"] for c in counts), Counter())
    warned = sum((c["warned"] for c in counts), Counter())
    seconds = sum((c["time"] for c in counts), Counter())
    return {"task": task, "n": n, "seeds": seeds, "fails": dict(fails), "warned": dict(warned),
            "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "messages": [m for c in counts for m in c["messages"]]}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| check | task | n (test rows) | seeds | healthy models failed | flawed models caught |",
             "|---|---|---|---|---|---|"]
    for check in CHECKS:
        for r in results:
            s = r["seeds"]
            if not any(k.startswith(check + "|") for k in r["fails"]):
                continue
            healthy = sum(r["fails"].get(f"{check}|{k}", 0) for k in HEALTHY)
            parts = ", ".join(f"{k} {r['fails'].get(f'{check}|{k}', 0)}/{s}" for k in FLAWED[check])
            lines.append(f"| {check} | {r['task']} | {r['n']:,} ({round(r['n'] * 0.25):,}) | {s} | "
                         f"{healthy}/{s * len(HEALTHY)} ({healthy / (s * len(HEALTHY)):.1%}) | {parts} |")
    for r in results:
        s = r["seeds"]
        if any(k.startswith("old rule|") for k in r["fails"]):
            healthy = sum(r["fails"].get(f"old rule|{k}", 0) for k in HEALTHY)
            parts = ", ".join(f"{k} {r['fails'].get(f'old rule|{k}', 0)}/{s}" for k in FLAWED["robustness"])
            lines.append(f"| robustness, old rule (max_drop 0.05 at levels <= 0.1) | {r['task']} | {r['n']:,} | {s} | "
                         f"{healthy}/{s * len(HEALTHY)} ({healthy / (s * len(HEALTHY)):.1%}) | {parts} |")
    for r in results:
        s = r["seeds"]
        if "feature_importance|leak (blocks)" not in r["fails"]:
            continue
        warned = sum(r["warned"].get(f"feature_importance|{k}", 0) for k in HEALTHY)
        lines.append(f"| feature_importance concentration warning | {r['task']} | {r['n']:,} | {s} | "
                     f"warned {warned}/{s * len(HEALTHY)} | leak warned {r['warned'].get('feature_importance|leak', 0)}"
                     f"/{s} (blocked {r['fails'].get('feature_importance|leak (blocks)', 0)}/{s}) |")
    return "\n".join(lines)


def from_log(path: Path) -> list[dict[str, Any]]:
    """The results of the seeds a log holds (an interrupted run counts what it finished)."""
    cells: dict[tuple[str, int], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        key = (row["task"], row["n"])
        c = cells.setdefault(key, {"task": row["task"], "n": row["n"], "seeds": 0, "fails": Counter(),
                                   "warned": Counter(), "seconds": {}, "messages": []})
        c["seeds"] += 1
        c["fails"].update(row["fails"])
        c["warned"].update(row["warned"])
        c["messages"] += row["messages"]
    return [cells[k] for k in sorted(cells)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="3 seeds at 400 and 2,000 rows")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--task", choices=("binary", "regression"), default="binary")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--checks", nargs="*", choices=CHECKS, default=None, help="only these checks")
    parser.add_argument("--old-rule", action="store_true", help="also count robustness's old absolute limit")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--first-seed", type=int, default=0, help="continue a run: seeds from here on")
    parser.add_argument("--log", type=Path, default=None, help="append one JSON line per seed here")
    parser.add_argument("--summarize", type=Path, default=None, help="print the table of a --log file and stop")
    args = parser.parse_args(argv)
    if args.checks:  # module-level, so the worker processes (forked) see it too
        globals()["CHECKS"] = tuple(args.checks)
    globals()["OLD_RULE"] = args.old_rule
    if args.summarize:
        print(markdown(from_log(args.summarize)))
        return 0
    sizes = args.sizes or (SIZES[:2] if args.quick else SIZES)
    seeds = 3 if args.quick else args.seeds
    started = time.perf_counter()
    results = []
    for n in sizes:
        t0 = time.perf_counter()
        results.append(cell(n, seeds, args.task, args.jobs, str(args.log) if args.log else None, args.first_seed))
        print(f"n={n:,}: {seeds} seeds in {time.perf_counter() - t0:.0f} s {results[-1]['seconds']}",
              file=sys.stderr, flush=True)
        for m in results[-1]["messages"][:10]:
            print("  " + m, file=sys.stderr, flush=True)
    print(f"Machine: {machine()}; {time.perf_counter() - started:.0f} s in all\n")
    print(markdown(results))
    if not args.quick:
        out = args.out or Path(__file__).parent / "results" / f"model_checks_{args.task}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
