"""False alarms and power of mlgate's distribution gates at their defaults, over many seeds.

    nice python benchmarks/false_alarms.py                 # the full run (BENCHMARKS.md, docs/stats.md)
    python benchmarks/false_alarms.py --quick              # a few seeds per cell, for development

Each seed draws one table of ``n`` rows and splits it i.i.d. 75/25 into train and test (as
``train_test_split(test_size=0.25)`` would). Columns: numeric normal, log-normal (skewed), Student t
with 3 degrees of freedom (heavy-tailed), integer-coded 1-7 answers, a normal column with 10% missing
values; categorical with 2, 10 and 50 levels (Zipf shares, so the 50-level column has many rare
levels) and a 5-level column with 5% missing; a binary target. Scenarios change the test table only:

* ``clean``: nothing (a failure is a false alarm),
* ``mean +0.25 sd`` / ``mean +0.5 sd``: the normal column shifted,
* ``scale 2x``: the normal column's spread doubled,
* ``category +10 pt``: 10 percentage points of the 10-level column's share moved from its most
  common level to its second.

Gates, each at its defaults: ``validate`` (the whole default gate of ``mlgate validate`` with the schema
inferred from train, quality score included), ``test data_distribution`` (the model test's check), and
``core`` (``mlgate.stats.frames.compare_columns`` with the core's numeric/categorical defaults, which the
monitor stage uses). A gate "fails" when its verdict is a failure; power also counts whether the
shifted column is the one named. ``survey`` adds validate's false-alarm rate on an all-integer survey
table (six correlated 1-5 answers), whose rows repeat naturally.

Seeds: 200 per cell, clean and shifted, at every n up to 100,000; at 1,000,000 rows 20 clean and 10
shifted seeds (a run of every gate there costs seconds, on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SCENARIOS = ("clean", "mean +0.25 sd", "mean +0.5 sd", "scale 2x", "category +10 pt")
SHIFTED = {"mean +0.25 sd": "normal", "mean +0.5 sd": "normal", "scale 2x": "normal", "category +10 pt": "cat10"}
# --table messy: the messy table and its own shifts
MESSY_SCENARIOS = ("clean", "age +0.5 sd", "region +10 pt", "age 40% missing")
MESSY_SHIFTED = {"age +0.5 sd": "age", "region +10 pt": "region", "age 40% missing": "age"}
GATES = ("validate", "test data_distribution", "core")
BASELINE = "fixed limits (before)"  # the rule a user had before: run with --gates 'fixed limits (before)'
SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)


def _zipf(levels: int, power: float = 1.1) -> np.ndarray:
    p = 1.0 / np.arange(1, levels + 1) ** power
    return p / p.sum()


def _categorical(rng: np.random.Generator, n: int, levels: int) -> np.ndarray:
    names = np.array([f"L{i:02d}" for i in range(levels)], dtype=object)
    return names[rng.choice(levels, size=n, p=_zipf(levels))]


def table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """One generated table of the shapes the docstring lists."""
    normal_missing = rng.normal(size=n)
    normal_missing[rng.random(n) < 0.10] = np.nan
    cat_missing = _categorical(rng, n, 5)
    cat_missing[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "normal": rng.normal(size=n),
        "skewed": rng.lognormal(0.0, 1.0, size=n),
        "heavy": rng.standard_t(3, size=n),
        "likert": np.clip(np.round(4 + 1.5 * rng.normal(size=n)), 1, 7).astype(np.int64),
        "normal_missing": normal_missing,
        "cat2": np.where(rng.random(n) < 0.7, "yes", "no").astype(object),
        "cat10": _categorical(rng, n, 10),
        "cat50": _categorical(rng, n, 50),
        "cat_missing": cat_missing,
        "target": (rng.random(n) < 0.35).astype(np.int64),
    })


_FIRST = np.array(["Ada", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon", "Kai", "Lea",
                   "Max", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara"], dtype=object)


def messy(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A table as users have them: text columns with 2, 10 and 50 levels, missing values at 2%, 10%
    and 30%, a date column, a near-unique name column, heavy-tailed counts; the binary target
    depends on five of the columns (so a model has something to learn)."""
    age = np.clip(np.round(rng.normal(45, 14, n)), 18, 90)
    income = rng.lognormal(10.5, 0.6, n)
    visits = rng.negative_binomial(1, 0.08, n).astype(float)  # counts: mostly small, a long tail
    plan = np.where(rng.random(n) < 0.6, "basic", "premium").astype(object)
    region = _categorical(rng, n, 10)
    city = _categorical(rng, n, 50)
    days = rng.integers(0, 3 * 365, n)
    date = (np.datetime64("2022-01-01") + days.astype("timedelta64[D]")).astype(str).astype(object)
    name = np.char.add(np.char.add(_FIRST[rng.integers(0, len(_FIRST), n)].astype(str), " "),
                       np.char.add("N", rng.integers(0, 10 * n, n).astype(str))).astype(object)
    score = (0.04 * (age - 45) + 0.8 * (plan == "premium") + 0.6 * np.log1p(visits) / 2
             - 0.5 * (np.log(income) - 10.5) + 0.5 * np.isin(region, ["L00", "L03"]) - 0.7)
    target = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(np.int64)
    frame = pd.DataFrame({"age": age, "income": income, "visits": visits, "plan": plan, "region": region,
                          "city": city, "signup_date": date, "name": name, "target": target})
    for col, rate in (("income", 0.02), ("region", 0.10), ("visits", 0.30)):
        hole = rng.random(n) < rate
        frame[col] = frame[col].where(~hole)  # NaN in a number column, a missing value in a text column
    return frame


def survey(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Six correlated 1-5 answers and a binary target: rows repeat by nature."""
    attitude = rng.normal(size=n)
    answers = {f"q{i}": np.clip(np.round(3 + 1.2 * attitude + rng.normal(0, 0.6, n)), 1, 5).astype(np.int64)
               for i in range(6)}
    return pd.DataFrame({**answers, "target": (attitude + rng.normal(0, 1, n) > 0).astype(np.int64)})


def split(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An i.i.d. 75/25 split (a random permutation, as train_test_split shuffles)."""
    order = rng.permutation(len(frame))
    cut = len(frame) - max(1, round(0.25 * len(frame)))
    return (frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True))


def shifted(test: pd.DataFrame, scenario: str, rng: np.random.Generator) -> pd.DataFrame:
    """The test table under a scenario (clean: unchanged)."""
    if scenario == "clean":
        return test
    out = test.copy()
    if scenario == "age +0.5 sd":
        out["age"] = out["age"] + 7.0
        return out
    if scenario == "age 40% missing":
        out["age"] = out["age"].where(rng.random(len(out)) >= 0.4)
        return out
    if scenario == "region +10 pt":
        values = out["region"].to_numpy(copy=True)
        top = values == "L00"
        values[top & (rng.random(len(out)) < min(1.0, 0.10 / max(top.mean(), 1e-9)))] = "L01"
        out["region"] = values
        return out
    if scenario.startswith("mean"):
        out["normal"] = out["normal"] + float(scenario.split("+")[1].split()[0])
    elif scenario == "scale 2x":
        out["normal"] = out["normal"] * 2.0
    else:  # move 10 points of share from the top level to the second
        top = out["cat10"].to_numpy() == "L00"
        share = top.mean()
        move = top & (rng.random(len(out)) < min(1.0, 0.10 / max(share, 1e-9)))
        values = out["cat10"].to_numpy(copy=True)
        values[move] = "L01"
        out["cat10"] = values
    return out


_SCHEMAS: dict[int, Any] = {}


def run_validate(train: pd.DataFrame, test: pd.DataFrame) -> tuple[bool, list[str], dict[str, int]]:
    """mlgate validate's default gate, as run_validate runs it; failed columns and warning counts.

    The schema is inferred from train once per seed (every scenario shares the train table)."""
    from mlgate.data.schema import infer_schema
    from mlgate.data.table import TableView
    from mlgate.data.validator import build_checks, validate_tables

    if id(train) not in _SCHEMAS:
        _SCHEMAS.clear()
        _SCHEMAS[id(train)] = infer_schema(train, target="target")
    schema = _SCHEMAS[id(train)]
    views = [TableView(train, "train", schema, "target"), TableView(test, "test", schema, "target")]
    report = validate_tables(views, build_checks({}), min_score=0.9, pair=(views[0], views[1]))
    failed = [f"{c.name}:{c.column}" for c in report.failures]
    warnings: dict[str, int] = {}
    for c in report.warnings:
        warnings[c.name] = warnings.get(c.name, 0) + 1
    return report.passed, failed, warnings


def run_data_distribution(train: pd.DataFrame, test: pd.DataFrame) -> tuple[bool, list[str], dict[str, int]]:
    """mlgate test's data_distribution check at its defaults."""
    from mlgate.modeltests.base import Subject
    from mlgate.modeltests.checks.distribution import DataDistribution

    X, ref = test.drop(columns="target"), train.drop(columns="target")
    subject = Subject(model=None, X=X, y=test["target"].to_numpy(), task="binary", reference=ref)  # type: ignore[arg-type]
    row = DataDistribution().run(subject).checks[0]
    return row.passed, [f"data_distribution:{c}" for c in row.observed["shifted"]], {}


def run_core(train: pd.DataFrame, test: pd.DataFrame) -> tuple[bool, list[str], dict[str, int]]:
    """The core's defaults over the features (what monitor asks)."""
    from mlgate.stats.frames import compare_columns
    from mlgate.stats.settings import ShiftSettings

    columns = [c for c in train.columns if c != "target"]
    decisions = compare_columns(train, test, columns, ShiftSettings())
    failed = [f"core:{c}" for c, d in decisions.items() if d.outcome == "differs"]
    undecided = sum(1 for d in decisions.values() if d.outcome == "undecided")
    return not failed, failed, {"undecided": undecided} if undecided else {}


def run_fixed_limits(train: pd.DataFrame, test: pd.DataFrame) -> tuple[bool, list[str], dict[str, int]]:
    """The rule before mlgate.stats (test's data_distribution until this benchmark): KS distance above
    0.1, share distance above 0.1, or a rise in missing share above 5 points fails, whatever the n."""
    from scipy.stats import ks_2samp

    failed = []
    for col in (c for c in train.columns if c != "target"):
        a, b = train[col], test[col]
        if b.isna().mean() - a.isna().mean() > 0.05:
            failed.append(f"fixed:{col}")
        elif pd.api.types.is_numeric_dtype(a):
            if ks_2samp(a.dropna().to_numpy(float), b.dropna().to_numpy(float)).statistic > 0.1:
                failed.append(f"fixed:{col}")
        else:
            p, q = a.value_counts(normalize=True), b.value_counts(normalize=True)
            both = p.index.union(q.index)
            if 0.5 * (p.reindex(both, fill_value=0) - q.reindex(both, fill_value=0)).abs().sum() > 0.1:
                failed.append(f"fixed:{col}")
    return not failed, failed, {}


RUNNERS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], tuple[bool, list[str], dict[str, int]]]] = {
    "validate": run_validate, "test data_distribution": run_data_distribution, "core": run_core,
    "fixed limits (before)": run_fixed_limits}


def chunk(n: int, seeds: range, gates: tuple[str, ...], power_seeds: int,
          kind: str = "generated") -> dict[str, Counter[str]]:
    """Counts over some seeds at one size: failures, named columns, clean-split failures and warnings.
    Seeds from ``power_seeds`` on run the clean scenario only."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("fails", "named", "clean", "warned", "survey", "time")}
    scenarios, named_column = (MESSY_SCENARIOS, MESSY_SHIFTED) if kind == "messy" else (SCENARIOS, SHIFTED)
    make = messy if kind == "messy" else table
    for seed in seeds:
        rng = np.random.default_rng([n, seed])
        train, test = split(make(n, rng), rng)
        for scenario in scenarios if seed < power_seeds else scenarios[:1]:
            current = shifted(test, scenario, rng)
            for gate in gates:
                t0 = time.perf_counter()
                passed, failed, warned = RUNNERS[gate](train, current)
                out["time"][gate] += round(time.perf_counter() - t0, 3)
                out["fails"][f"{gate}|{scenario}"] += not passed
                column = named_column.get(scenario)
                out["named"][f"{gate}|{scenario}"] += bool(column and any(f.endswith(":" + column) for f in failed))
                if scenario == "clean":
                    out["clean"].update(f"{gate} {f}" for f in failed)
                    out["warned"].update(f"{gate} {k}" for k, v in warned.items() if v)
        if "validate" in gates and kind != "messy":
            s_train, s_test = split(survey(n, rng), rng)
            passed, failed, _ = run_validate(s_train, s_test)
            out["survey"]["fails"] += not passed
            out["survey"].update(failed)
    return out


def cell(n: int, seeds: int, gates: tuple[str, ...], jobs: int = 1, power_seeds: int | None = None,
         kind: str = "generated") -> dict[str, Any]:
    """Every scenario and gate at one size: the clean scenario over ``seeds`` seeds, the shifts over
    ``power_seeds`` of them (default all), in ``jobs`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    power = min(seeds, power_seeds or seeds)
    parts = [range(i, seeds, jobs) for i in range(jobs)]
    if jobs == 1:
        counts = [chunk(n, parts[0], gates, power, kind)]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            counts = list(pool.map(chunk, [n] * jobs, parts, [gates] * jobs, [power] * jobs, [kind] * jobs))
    scenarios = MESSY_SCENARIOS if kind == "messy" else SCENARIOS
    total = {k: sum((c[k] for c in counts), Counter()) for k in counts[0]}
    rate = {g: {s: total["fails"][f"{g}|{s}"] / (seeds if s == "clean" else power) for s in scenarios}
            for g in gates}
    named = {g: {s: total["named"][f"{g}|{s}"] / power for s in scenarios[1:]} for g in gates}
    survey_fails = total["survey"].pop("fails", 0)
    return {"table": kind, "n": n, "seeds": seeds, "power_seeds": power, "fail_rate": rate, "named_rate": named,
            "clean_failures": dict(total["clean"]),
            "clean_warning_rate": {k: v / seeds for k, v in total["warned"].items()},
            "survey_false_alarm": survey_fails / seeds if "validate" in gates and kind != "messy" else None,
            "survey_failures": dict(total["survey"]), "seconds": {g: round(t, 1) for g, t in total["time"].items()}}


def markdown(results: list[dict[str, Any]]) -> str:
    """The table for BENCHMARKS.md and the docs: failure rate per gate, size and scenario."""
    scenarios = MESSY_SCENARIOS if results and results[0].get("table") == "messy" else SCENARIOS
    head = "| gate | n | seeds (clean / shifted) | false alarm | " + " | ".join(scenarios[1:]) + " |"
    lines = [head, "|" + "---|" * (4 + len(scenarios) - 1)]
    for gate in (*GATES, BASELINE):
        for r in results:
            if gate not in r["fail_rate"]:
                continue
            rates = r["fail_rate"][gate]
            named = r["named_rate"][gate]
            cells = [f"{rates[s]:.1%} ({named[s]:.0%})" for s in scenarios[1:]]
            lines.append(f"| {gate} | {r['n']:,} | {r['seeds']} / {r['power_seeds']} | {rates['clean']:.1%} | "
                         + " | ".join(cells) + " |")
    for r in results:
        if r.get("survey_false_alarm") is not None:
            lines.append(f"| validate, survey table | {r['n']:,} | {r['seeds']} | {r['survey_false_alarm']:.1%} |"
                         + " |" * (len(SCENARIOS) - 1))
    return "\n".join(lines)


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
            f"{platform.python_version()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 seeds per cell, sizes up to 10,000")
    parser.add_argument("--seeds", type=int, default=200, help="seeds per cell (default 200)")
    parser.add_argument("--seeds-1m", type=int, default=20, help="seeds at 1,000,000 rows (default 20)")
    parser.add_argument("--power-seeds-100k", type=int, default=200, help="shifted seeds at 100,000 rows (default 200)")
    parser.add_argument("--power-seeds-1m", type=int, default=10, help="shifted seeds at 1,000,000 rows (default 10)")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--gates", nargs="*", default=list(GATES), choices=[*GATES, BASELINE])
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--table", choices=("generated", "messy"), default="generated",
                        help="messy: text, missing values, a date, names and counts (see messy())")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    suffix = "" if args.table == "generated" else f"_{args.table}"
    args.out = args.out or Path(__file__).parent / "results" / f"false_alarms{suffix}.json"
    sizes = args.sizes or (SIZES[:3] if args.quick else SIZES)
    results = []
    started = time.perf_counter()
    for n in sizes:
        seeds = 10 if args.quick else {1_000_000: args.seeds_1m}.get(n, args.seeds)
        power = None if args.quick else {1_000_000: args.power_seeds_1m, 100_000: args.power_seeds_100k}.get(n)
        t0 = time.perf_counter()
        results.append(cell(n, seeds, tuple(args.gates), args.jobs, power, args.table))
        print(f"n={n:,}: {seeds} seeds in {time.perf_counter() - t0:.0f} s {results[-1]['seconds']}",
              file=sys.stderr, flush=True)
        print(json.dumps({k: v for k, v in results[-1].items() if k != "seconds"}), file=sys.stderr, flush=True)
    text = markdown(results)
    print(f"Machine: {machine()}; {time.perf_counter() - started:.0f} s in all\n")
    print(text)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
