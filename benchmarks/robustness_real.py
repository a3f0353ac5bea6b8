"""The robustness check on real tables: how often it fails healthy models, how often it catches fragile ones.

    nice .venv/bin/python benchmarks/robustness_real.py --seeds 5 --jobs 2 [--log FILE]

``benchmarks/model_checks.py`` measures every model check on generated messy tables; this measures
the robustness check alone on tables that ship inside installed packages (scikit-learn,
statsmodels, palmerpenguins, and vega_datasets' cars and Seattle weather when it is installed:
text columns, missing values, dates as text, counts, zero-inflated measurements), each split
i.i.d. 75/25 per seed. Healthy models, fitted through mlgate's preprocessing as the train stage
fits them: logistic regression / ridge, histogram gradient boosting (the model zoo's defaults), a
random forest (100 trees). Fragile: a 1-nearest-neighbour and an unpruned tree on the table plus
ten pure-noise columns. Printed per table and model: how many seeds failed, and the excess
prediction change (the check's effect) over the seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from model_checks import _estimator, _noise_columns  # noqa: E402  (sibling scripts)

from _support.tables import anes96, fair, fertility, grunfeld, penguins, sklearn_table  # noqa: E402

HEALTHY = ("linear", "gradient boosting", "random forest")
FRAGILE = ("1-nearest-neighbour", "unpruned tree")


def _vega(name: str, target: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from vega_datasets import local_data

        frame = getattr(local_data, name)()
        for column in frame.columns:  # as a CSV reader gives them: dates and text as text
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].astype(str).where(frame[column].notna(), None).astype(object)
        return frame.rename(columns={target: "target"})

    return load


def _renamed(load: Callable[[], pd.DataFrame], target: str) -> Callable[[], pd.DataFrame]:
    return lambda: load().rename(columns={target: "target"})


def tables() -> dict[str, tuple[Callable[[], pd.DataFrame], str]]:
    from sklearn import datasets

    out = {"wine": (sklearn_table(datasets.load_wine), "multiclass"),
           "breast_cancer": (sklearn_table(datasets.load_breast_cancer), "binary"),
           "diabetes": (sklearn_table(datasets.load_diabetes), "regression"),
           "penguins": (_renamed(penguins, "species"), "multiclass"),
           "anes96": (_renamed(anes96, "vote"), "binary"),
           "fair": (_renamed(fair, "had_affair"), "binary"),
           "grunfeld": (_renamed(grunfeld, "invest"), "regression"),
           "fertility": (_renamed(fertility, "rate_2011"), "regression")}
    try:
        import vega_datasets  # noqa: F401
    except ImportError:
        return out
    out["cars"] = (_vega("cars", "Origin"), "multiclass")
    out["seattle_weather"] = (_vega("seattle_weather", "weather"), "multiclass")
    return out


def _fit(kind: str, train: pd.DataFrame, task: str, seed: int) -> Any:
    from mlgate.train.preprocess import build_pipeline, feature_set

    features = feature_set(train, "target")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_pipeline(features, _estimator(kind, "regression" if task == "regression" else "binary", seed)).fit(
            train[features.columns], train["target"])


def case(table: str, seed: int) -> list[dict[str, Any]]:
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from mlgate.modeltests import run

    load, task = tables()[table]
    frame = load().dropna(subset=["target"]).reset_index(drop=True)
    train, test = (part.reset_index(drop=True) for part in train_test_split(frame, test_size=0.25, random_state=seed))
    rows = []
    with threadpool_limits(1):
        for kind in HEALTHY + FRAGILE:
            tr, te = _noise_columns(train, test, seed) if kind in FRAGILE else (train, test)
            report = run(_fit(kind, tr, task, seed), te, {}, reference=tr, target="target", checks=["robustness"])
            row = report.checks[0]
            rows.append({"table": table, "seed": seed, "model": kind, "passed": report.passed,
                         "excess": row.details.get("excess_change"), "message": row.message[:240]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--tables", nargs="*", default=None)
    parser.add_argument("--log", type=Path, default=None, help="write one JSON line per model and seed here")
    args = parser.parse_args()
    names = args.tables or list(tables())
    jobs = [(t, s) for t in names for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = [r for rows in pool.map(case, *zip(*jobs, strict=True)) for r in rows]
    if args.log:
        args.log.write_text("".join(json.dumps(r) + "\n" for r in results))
    frame = pd.DataFrame(results)
    print(f"{'table':16s} {'model':20s} failed  excess: median  max")
    for (table, model), part in frame.groupby(["table", "model"], sort=False):
        excess = part["excess"].dropna()
        print(f"{table:16s} {model:20s} {(~part['passed']).sum()}/{len(part)}    "
              f"{excess.median():+.3f}  {excess.max():+.3f}" if len(excess) else f"{table:16s} {model:20s} -")
    healthy = frame[frame["model"].isin(HEALTHY)]
    fragile = frame[frame["model"].isin(FRAGILE)]
    print(f"healthy models failed: {(~healthy['passed']).sum()}/{len(healthy)}; "
          f"fragile models caught: {(~fragile['passed']).sum()}/{len(fragile)}")


if __name__ == "__main__":
    main()
