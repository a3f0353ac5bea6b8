"""Error rates of `mlgate compare`'s "not significantly worse" rule on real tables, by materiality margin.

    nice .venv/bin/python benchmarks/compare_rates.py --seeds 10 --log FILE

Per table (``robustness_real.tables()`` and statsmodels' randhie) and seed: split 75/25;
"production" is a model fitted on a random 80% of the training rows; two candidates of the same
kind are compared with it on the test rows, as `mlgate compare` does (``compare_models``, the
headline metric, 1,000 paired bootstrap resamples):

* *healthy*: the same kind fitted on another random 80% (a routine retrain, no worse in
  expectation): a failure is a false alarm unless the retrain is materially worse;
* *worse*: the same, with 30% of its training targets shuffled among those rows (a materially
  worse model): a failure is a catch.

One JSON line per case with the relative improvement (candidate vs production, positive = better)
and the bootstrap verdict; the summary gives the failure rates for several margins: a
candidate fails when it is significantly worse AND worse by at least the margin (relative to
production's metric).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from robustness_real import _fit, tables  # noqa: E402  (a sibling script)

KINDS = ("linear", "gradient boosting")
MARGINS = (0.0, 0.005, 0.01, 0.02)
SHUFFLED = 0.3  # share of a worse candidate's training targets shuffled


def _tables() -> dict[str, Any]:
    """robustness_real's ten tables and statsmodels' randhie (20,190 rows: large test sets)."""
    import statsmodels.api as sm

    def randhie() -> pd.DataFrame:
        return sm.datasets.randhie.load_pandas().data.rename(columns={"mdvis": "target"})

    return {**tables(), "randhie": (randhie, "regression")}


def _degraded(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = train.copy()
    rows = rng.choice(len(out), int(SHUFFLED * len(out)), replace=False)
    out.loc[out.index[rows], "target"] = out["target"].to_numpy()[rng.permutation(rows)]
    return out


def case(table: str, seed: int) -> list[dict[str, Any]]:
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from mlgate.config import CompareGate
    from mlgate.evaluation.versus_baseline import compare_models
    from mlgate.models import LoadedModel

    load, task = _tables()[table]
    frame = load().dropna(subset=["target"]).reset_index(drop=True)
    train, test = (p.reset_index(drop=True) for p in train_test_split(frame, test_size=0.25, random_state=seed))
    rows = []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in KINDS:
            production = _fit(kind, train.sample(frac=0.8, random_state=seed), task, seed)
            retrain = train.sample(frac=0.8, random_state=seed + 1000)
            for name, rows_used in (("healthy", retrain), ("worse", _degraded(retrain, seed))):
                candidate = _fit(kind, rows_used.reset_index(drop=True), task, seed)
                _, out = compare_models(LoadedModel(candidate, "candidate", info={"task": task}),
                                        LoadedModel(production, "production", info={"task": task}),
                                        test, "target", CompareGate(), task=task, seed=seed)
                rows.append({"table": table, "seed": seed, "kind": kind, "candidate": name, "metric": out.metric,
                             "n_test": len(test), "production": out.baseline, "value": out.candidate,
                             "relative": out.relative, "ci": list(out.ci), "verdict": out.verdict})
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    lines = ["| margin (relative) | healthy retrains failed | worse candidates caught |", "|---|---|---|"]
    for margin in MARGINS:
        cells = []
        for name in ("healthy", "worse"):
            sel = [r for r in rows if r["candidate"] == name]
            failed = sum(r["verdict"] == "significantly worse" and -r["relative"] >= margin for r in sel)
            cells.append(f"{failed}/{len(sel)} ({failed / max(1, len(sel)):.1%})")
        lines.append(f"| {margin:g} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tables", default=None, help="comma-separated (default: all)")
    parser.add_argument("--log", type=Path, help="write one JSON line per case here")
    parser.add_argument("--from-log", type=Path, help="only summarise an earlier log")
    args = parser.parse_args()
    if args.from_log:
        print(summary([json.loads(line) for line in args.from_log.read_text().splitlines() if line]))
        return
    names = args.tables.split(",") if args.tables else list(_tables())
    rows: list[dict[str, Any]] = []
    for table in names:
        for seed in range(args.seeds):
            found = case(table, seed)
            rows += found
            if args.log:
                with args.log.open("a") as fh:
                    fh.writelines(json.dumps(r) + "\n" for r in found)
        print(table, "done", flush=True)
    print(summary(rows))


if __name__ == "__main__":
    main()
