"""Benchmark `mlgate monitor` drift against Evidently's DataDriftPreset, and its false-alarm rate.

    python benchmarks/drift.py --evidently-python /tmp/evvenv/bin/python     # 1M x 20, both tools
    python benchmarks/drift.py --tools mlgate,mlgate-stored --repeats 5       # only these sides
    python benchmarks/drift.py --rows 200000                                  # a quicker run
    python benchmarks/drift.py --false-alarms 200                             # clean churn batches

Reference and current tables of ``--rows`` rows x 20 columns (15 numeric, 5 categorical) as
Parquet; the current table shifts 3 columns (num_00 mean +0.5 sd, num_07 sd x1.5, cat_2 moves 20%
of rows to one level). Each measurement runs in its own child process (this script with
``--worker``), so its peak memory (ru_maxrss) is its own:

* ``mlgate``: ``monitor()`` end to end from the two Parquet files (reference spec and profile,
  current profile in batches, drift for every column, the four report files);
* ``mlgate-stored``: the same from the reference profile registration stores (built beforehand,
  untimed), as ``mlgate monitor --reference models:/NAME@ALIAS`` runs;
* ``mlgate-10x``, ``mlgate-stored-10x``: a current table 10 times larger (memory must stay flat);
* ``evidently``: pandas reads both files and runs ``Report([DataDriftPreset()])`` (its defaults:
  Wasserstein/IQR-normed and Jensen-Shannon at 0.1 above 1,000 rows), in the other interpreter;
* ``*-psi``: both tools with PSI at 0.1 on every column, the same method and threshold.

``--tools`` picks sides (default: every mlgate side, plus Evidently's with ``--evidently-python``);
``--repeats N`` runs each mlgate side N times (median wall and CPU, largest peak); ``--json FILE``
writes the summary there too (benchmarks/results/drift.json for BENCHMARKS.md).

``--power N`` shifts monthly_charges by 0.1, 0.25 and 0.5 sd in N batches and counts how often it
is flagged. ``--false-alarms N`` profiles N clean churn batches (generate() with other seeds) against one
reference and counts batches with any flagged feature and with a dataset-drift alert.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

N_NUM, N_CAT = 15, 5
SHIFTED = ["cat_2", "num_00", "num_07"]
TOOLS = ("mlgate", "mlgate-stored", "mlgate-psi", "mlgate-stored-10x", "mlgate-10x", "evidently", "evidently-psi")


def generate(path: Path, rows: int, seed: int, shifted: bool) -> None:
    """Write ``rows`` rows in row groups of 500k, so generating 10M rows stays small too."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, 500_000):
        n = min(500_000, rows - start)
        cols: dict[str, pa.Array] = {}
        for i in range(N_NUM):
            mean, sd = i * 10.0, 1.0 + i
            if shifted and i == 0:
                mean += 0.5 * sd
            if shifted and i == 7:
                sd *= 1.5
            values = rng.normal(mean, sd, n)
            if i in (3, 11):
                values[rng.random(n) < 0.01] = np.nan
            cols[f"num_{i:02d}"] = pa.array(values)
        for j, size in enumerate((3, 5, 8, 12, 30)):
            codes = rng.integers(0, size, n)
            if shifted and j == 2:
                codes[rng.random(n) < 0.2] = 0
            cols[f"cat_{j}"] = pa.array([f"level_{j}_{k}" for k in range(size)]).take(pa.array(codes))
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def store_profile(ref: Path, out: Path) -> Path:
    """The reference profile as registration stores it (untimed: built once per model version)."""
    from mlgate.monitor.reference import load_reference

    return load_reference(str(ref), None, ref.parent).write(out)


def _mlgate(ref: Path, cur: Path, out: Path, psi: bool) -> list[str]:
    import pyarrow.parquet as pq

    from mlgate.config import MonitorColumn
    from mlgate.monitor.drift import DriftSettings
    from mlgate.monitor.stage import MonitorRequest, monitor
    from mlgate.reports import write_report

    columns = {c: MonitorColumn(method="psi", material=0.1) for c in pq.read_schema(ref).names} if psi else {}
    report = monitor(MonitorRequest(reference=str(ref), current=cur, settings=DriftSettings(columns)))
    write_report(report, out)
    return sorted(r["column"] for r in report.extras["drift"] if r["outcome"] == "differs")


def _evidently(ref: Path, cur: Path, psi: bool) -> list[str]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    num = [c for c in reference.columns if c.startswith("num_")]
    cat = [c for c in reference.columns if c.startswith("cat_")]
    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    preset = DataDriftPreset(method="psi", threshold=0.1) if psi else DataDriftPreset()
    snapshot = Report([preset]).run(Dataset.from_pandas(current, data_definition=definition),
                                    Dataset.from_pandas(reference, data_definition=definition))
    flagged = []
    for metric in snapshot.dict()["metrics"]:
        cfg = metric["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(cfg["threshold"])
            p_value_method = "p_value" in cfg["method"].lower() or "test" in cfg["method"].lower()
            if (value < threshold) if p_value_method else (value >= threshold):
                flagged.append(cfg["column"])
    return sorted(flagged)


def worker(tool: str, ref: Path, cur: Path, out: Path) -> None:
    """One measurement: wall and CPU time (imports included), peak memory, the flagged columns."""
    t0 = time.perf_counter()
    psi = tool.endswith("-psi")
    flagged = _evidently(ref, cur, psi) if tool.startswith("evidently") else _mlgate(ref, cur, out, psi)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"tool": tool, "wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
                      "peak_mb": round(usage.ru_maxrss / 1024, 1), "flagged": flagged}))


def _child(python: str, tool: str, ref: Path, cur: Path, out: Path) -> dict:
    cmd = [python, __file__, "--worker", tool, "--ref", str(ref), "--cur", str(cur), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode:
        raise SystemExit(f"{tool} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def false_alarms(batches: int, rows: int = 2000, ref_rows: int = 16_000) -> dict:
    """Clean churn batches against one reference: batches with any flagged feature, and alerts."""
    from mlgate.examples.churn import generate as churn
    from mlgate.monitor.batches import frame_source, infer_spec, profile_source
    from mlgate.monitor.drift import DriftSettings, column_drift

    ref = churn(ref_rows, seed=1)
    spec = infer_spec(frame_source(ref), roles={"target": "target"}, ignore=["customer_id"])
    reference = profile_source(frame_source(ref), spec)
    any_flag = alerts = columns = target = 0
    for seed in range(batches):
        result = column_drift(reference, profile_source(frame_source(churn(rows, seed=1000 + seed)), spec),
                              DriftSettings())
        any_flag += bool(result.drifted_features)
        columns += len(result.drifted_features)
        alerts += result.dataset_drift
        target += any(c.drifted for c in result.columns if c.role == "target")
    return {"batches": batches, "rows_per_batch": rows, "reference_rows": ref_rows, "target_flags": target,
            "path": "exact KS on raw values" if max(rows, ref_rows) <= 10_000 else "chi-square on deciles",
            "batches_with_a_flagged_feature": any_flag, "flagged_columns": columns, "dataset_drift_alerts": alerts,
            "features": len([c for c in spec.columns if c.role == "feature"])}


def power(batches: int, rows: int = 2000, ref_rows: int = 16_000) -> dict:
    """Share of batches flagging ``monthly_charges`` when it is shifted by 0.1, 0.25 and 0.5 sd."""
    from mlgate.examples.churn import generate as churn
    from mlgate.monitor.batches import frame_source, infer_spec, profile_source
    from mlgate.monitor.drift import DriftSettings, column_drift

    ref = churn(ref_rows, seed=1)
    sd = float(ref["monthly_charges"].std())
    spec = infer_spec(frame_source(ref), roles={"target": "target"}, ignore=["customer_id"])
    reference = profile_source(frame_source(ref), spec)
    out: dict = {"batches": batches, "rows_per_batch": rows, "reference_rows": ref_rows, "column": "monthly_charges"}
    for shift in (0.1, 0.25, 0.5):
        caught = others = 0
        for seed in range(batches):
            cur = churn(rows, seed=5000 + seed)
            cur["monthly_charges"] = cur["monthly_charges"] + shift * sd
            drifted = column_drift(reference, profile_source(frame_source(cur), spec), DriftSettings()).drifted_features
            caught += "monthly_charges" in drifted
            others += any(c != "monthly_charges" for c in drifted)
        out[f"shift_{shift}sd"] = {"caught": caught, "other_columns_flagged": others}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mlgate-drift-bench"))
    ap.add_argument("--evidently-python", default=None)
    ap.add_argument("--false-alarms", type=int, default=0)
    ap.add_argument("--power", type=int, default=0)
    ap.add_argument("--batch-rows", type=int, default=2000)
    ap.add_argument("--reference-rows", type=int, default=16_000)
    ap.add_argument("--worker", default=None)
    ap.add_argument("--ref", type=Path)
    ap.add_argument("--cur", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--tools", default=None,
                    help=f"comma-separated sides to run (default: every mlgate side, and Evidently's when "
                         f"--evidently-python is given); choices: {', '.join(TOOLS)}")
    ap.add_argument("--json", type=Path, default=None, help="also write the summary to this file")
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of each mlgate side (median wall and CPU, largest peak); Evidently's run once")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.ref, args.cur, args.out)
        return
    if args.power:
        print(json.dumps(power(args.power, args.batch_rows, args.reference_rows), indent=2))
        return
    if args.false_alarms:
        print(json.dumps(false_alarms(args.false_alarms, args.batch_rows, args.reference_rows), indent=2))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    ref, cur, big = (args.dir / f"{name}-{args.rows}.parquet" for name in ("reference", "current", "current10x"))
    for path, rows, seed, shifted in ((ref, args.rows, 1, False), (cur, args.rows, 2, True),
                                      (big, 10 * args.rows, 3, True)):
        if not path.exists():
            generate(path, rows, seed, shifted)
    stored = args.dir / f"profile-{args.rows}.json"
    store_profile(ref, stored)  # every run: a profile left by an older mlgate would time old code
    tools = _tools(args.tools, args.evidently_python)
    inputs = {"mlgate": (ref, cur), "mlgate-stored": (stored, cur), "mlgate-psi": (ref, cur),
              "mlgate-stored-10x": (stored, big), "mlgate-10x": (ref, big), "evidently": (ref, cur),
              "evidently-psi": (ref, cur)}
    load = os.getloadavg()[0]
    results = []
    for tool in tools:
        ours = not tool.startswith("evidently")
        runs = [_child(sys.executable if ours else args.evidently_python, tool, *inputs[tool],
                       args.dir / f"out-{tool}") for _ in range(args.repeats if ours else 1)]
        results.append(_median(runs))
    by = {r["tool"]: r for r in results}
    summary = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}, "
                          f"load {load:.1f}",
               "rows": args.rows, "columns": N_NUM + N_CAT, "shifted": SHIFTED, "results": results}
    for key, big_side, small_side in (("memory_ratio_10x", "mlgate-10x", "mlgate"),
                                      ("memory_ratio_10x_stored", "mlgate-stored-10x", "mlgate-stored")):
        if big_side in by and small_side in by:
            summary[key] = round(by[big_side]["peak_mb"] / by[small_side]["peak_mb"], 3)
    if "evidently" in by and "mlgate" in by:
        summary["speedup_wall"] = round(by["evidently"]["wall_s"] / by["mlgate"]["wall_s"], 1)
        summary["speedup_cpu"] = round(by["evidently"]["cpu_s"] / by["mlgate"]["cpu_s"], 1)
        summary["flagged_agree_default"] = by["evidently"]["flagged"] == by["mlgate"]["flagged"]
    if "evidently-psi" in by and "mlgate-psi" in by:
        summary["speedup_cpu_psi"] = round(by["evidently-psi"]["cpu_s"] / by["mlgate-psi"]["cpu_s"], 1)
        summary["flagged_agree_psi"] = by["evidently-psi"]["flagged"] == by["mlgate-psi"]["flagged"]
    text = json.dumps(summary, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


def _median(runs: list[dict]) -> dict:
    """One side's figures over its repeats: median wall and CPU, the largest peak, every run kept."""
    import statistics

    if len(runs) == 1:
        return runs[0]
    flagged = {tuple(r["flagged"]) for r in runs}
    return {"tool": runs[0]["tool"], "wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 3),
            "peak_mb": max(r["peak_mb"] for r in runs),
            "flagged": runs[0]["flagged"] if len(flagged) == 1 else sorted(flagged),
            "runs": [{k: r[k] for k in ("wall_s", "cpu_s", "peak_mb")} for r in runs]}


def _tools(given: str | None, evidently_python: str | None) -> list[str]:
    """The sides to run, in TOOLS order; Evidently's need its interpreter."""
    if given is None:
        return [t for t in TOOLS if evidently_python or not t.startswith("evidently")]
    wanted = [t.strip() for t in given.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in TOOLS]
    if unknown:
        raise SystemExit(f"--tools: unknown side(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    if any(t.startswith("evidently") for t in wanted) and not evidently_python:
        raise SystemExit("--tools: the evidently sides need --evidently-python PATH (a venv with evidently, pandas<3)")
    return [t for t in TOOLS if t in wanted]


if __name__ == "__main__":
    main()
