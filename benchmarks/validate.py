"""Benchmark `mlgate validate` on a 10M-row x 20-column Parquet table against pandera and GX.

    python benchmarks/validate.py                      # 10M rows, data in /tmp/mlgate-bench
    python benchmarks/validate.py --rows 1000000       # a quicker run
    python benchmarks/validate.py --gx-python /tmp/gx-venv/bin/python   # add Great Expectations
    python benchmarks/validate.py --rows 100000000 --files 10 --only read,mlgate   # 100M rows in 10 files
    python benchmarks/validate.py --only read,mlgate --repeat 5   # interleaved runs, medians

Each measurement runs in its own child process (this script with ``--worker``), so its peak
memory (ru_maxrss) is its own. On the 2-core VM ``read``'s time swings 1.5-7.6 s with whether the
3.4 GB it allocates are already backed by the host (reads back to back are the fast ones), so
compare with ``--repeat`` (interleaved runs, medians) and state the back-to-back read too.
Measured, in the same run:

* ``read`` : a plain ``pyarrow.parquet.read_table`` of the data (the yardstick of the streamed gate).
* ``read-warm`` : the same read, timed the second time in its process (memory already backed).
* ``mlgate`` : the whole command (data streamed batch by batch; the reference, which the schema
  is given for, streamed too; all checks incl. duplicates and leakage, profile, the four report
  files), in-process via the CLI app.
* ``mlgate-in-memory`` : the same report with the tables read whole into pandas (the former path).
* ``mlgate-infer`` : no schema given: inferred from the data itself (a streamed pass of its own),
  then the data validated against it.
* ``mlgate-project`` : a project with the data as train and the reference as test: the schema is
  inferred from train, as in ``mlgate run``.
* ``mlgate-schema`` : only the checks a plain pandera schema covers (dtype, nullability,
  range, allowed categories) on an already-read frame.
* ``pandera`` : the same schema written as a pandera ``DataFrameSchema``, ``lazy=True``.
* ``gx`` : the same expectations in Great Expectations (when ``--gx-python`` is given).
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

N_NUM, N_CAT = 14, 5  # plus the integer target: 15 numeric + 5 categorical = 20 columns
SCHEMA_CHECKS = ["dtype_mismatch", "nulls_in_non_nullable", "out_of_range", "unseen_categories"]


def generate(path: Path, rows: int, seed: int) -> None:
    """Write a table of ``rows`` rows: 14 floats (two with 1% NaN), an int target, 5 string columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {}
    for i in range(N_NUM):
        values = rng.normal(i * 10.0, 1.0 + i, rows)
        if i in (3, 7):
            values[rng.random(rows) < 0.01] = np.nan
        cols[f"num_{i:02d}"] = pa.array(values)
    cols["target"] = pa.array((rng.random(rows) < 0.3).astype(np.int64))
    for j, size in enumerate((3, 5, 8, 12, 30)):
        levels = pa.array([f"level_{j}_{k}" for k in range(size)])
        codes = pa.array(rng.integers(0, size, rows).astype(np.int32))
        cols[f"cat_{j}"] = pa.DictionaryArray.from_arrays(codes, levels).cast(pa.string())
    pq.write_table(pa.table(cols), path)


def prepare(folder: Path, rows: int, ref_rows: int, files: int = 1) -> dict[str, str]:
    """Generate the data (once; ``files`` > 1: a folder of that many files, written one at a time,
    so the table is never held whole) and infer the schema from the reference with mlgate."""
    from mlgate.data.io import load_table
    from mlgate.data.schema import infer_schema, save_schema

    folder.mkdir(parents=True, exist_ok=True)
    big, ref = folder / f"data_{rows}.parquet", folder / f"reference_{ref_rows}.parquet"
    if files > 1:
        big = folder / f"data_{rows}_in_{files}"
        big.mkdir(exist_ok=True)
    if files > 1 and len(list(big.glob("*.parquet"))) < files:
        t0 = time.perf_counter()
        for i in range(files):
            generate(big / f"part-{i:03d}.parquet", rows // files, seed=100 + i)
        print(f"generated {big} in {time.perf_counter() - t0:.1f} s", flush=True)
    elif files == 1 and not big.exists():
        t0 = time.perf_counter()
        generate(big, rows, seed=1)
        print(f"generated {big} in {time.perf_counter() - t0:.1f} s", flush=True)
    if not ref.exists():
        generate(ref, ref_rows, seed=2)
    schema = infer_schema(load_table(ref), target="target")
    schema_yaml = save_schema(schema, folder / "schema.yaml", source=str(ref))
    schema_json = folder / "schema.json"
    schema_json.write_text(json.dumps(schema.model_dump(mode="json")), encoding="utf-8")
    return {"data": str(big), "reference": str(ref), "schema": str(schema_yaml),
            "schema_json": str(schema_json), "out": str(folder / "out")}


def peak_mib() -> float:
    """This process's peak resident memory: VmHWM, which counts from this program's start (ru_maxrss
    carries over the parent's peak through fork and exec, so a parent that generated the data in
    memory would inflate every worker's figure)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process: less sensitive than wall time to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_mlgate(p: dict[str, str]) -> dict[str, float]:
    from mlgate.cli import get_app

    t0 = time.perf_counter()
    code = get_app()(["validate", "--data", p["data"], "--schema", p["schema"], "--reference",
                p["reference"], "--target", "target", "--output", p["out"]], standalone_mode=False)
    return {"seconds": time.perf_counter() - t0, "exit_code": code}


def worker_mlgate_infer(p: dict[str, str]) -> dict[str, float]:
    """No schema given: inferred from the data itself (a streamed pass), then the data validated."""
    from mlgate.cli import get_app

    t0 = time.perf_counter()
    code = get_app()(["validate", "--data", p["data"], "--target", "target", "--infer-schema",
                      str(Path(p["out"]) / "infer" / "schema.yaml"), "--output", str(Path(p["out"]) / "infer")],
                     standalone_mode=False)
    return {"seconds": time.perf_counter() - t0, "exit_code": code}


def worker_mlgate_project(p: dict[str, str]) -> dict[str, float]:
    """A project with the data as train and the reference as test: `mlgate validate` infers the schema
    from train (the big table), as `mlgate run` does."""
    from mlgate.cli import get_app

    folder = Path(p["out"]) / "project"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlgate.yaml").write_text(f"project: bench\ndata:\n  train: {p['data']}\n  test: {p['reference']}\n"
                                        "  target: target\ntask: binary\n", encoding="utf-8")
    t0 = time.perf_counter()
    code = get_app()(["validate", "--config", str(folder / "mlgate.yaml"), "--output", str(folder / "out")],
                     standalone_mode=False)
    return {"seconds": time.perf_counter() - t0, "exit_code": code}


def worker_read(p: dict[str, str]) -> dict[str, float]:
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    table = pq.read_table(p["data"])
    return {"seconds": time.perf_counter() - t0, "rows": table.num_rows}


def worker_read_warm(p: dict[str, str]) -> dict[str, float]:
    """The read a second time in one process: its 3.4 GB then come from memory the process already
    had backed (on this VM the first read of a process pays up to 4x that in system time)."""
    import pyarrow.parquet as pq

    table = pq.read_table(p["data"])
    del table
    t0 = time.perf_counter()
    table = pq.read_table(p["data"])
    return {"seconds": time.perf_counter() - t0, "rows": table.num_rows}


def worker_mlgate_in_memory(p: dict[str, str]) -> dict[str, float]:
    from mlgate.context import standalone_context
    from mlgate.data.stage import ValidateOptions, run_validate
    from mlgate.reports import write_report

    t0 = time.perf_counter()
    options = ValidateOptions(schema=Path(p["schema"]), target="target", in_memory=True)
    ctx = standalone_context("validate", None, data=Path(p["data"]), reference=Path(p["reference"]),
                             output=Path(p["out"]) / "in-memory")
    write_report(run_validate(ctx, options), ctx.out_dir)
    return {"seconds": time.perf_counter() - t0}


def worker_mlgate_parts(p: dict[str, str]) -> dict[str, float]:
    """The same work as ``mlgate``, timed by part: reading, checks + profile, report files."""
    from mlgate.data.io import load_table
    from mlgate.data.schema import load_schema
    from mlgate.data.stage import _run
    from mlgate.data.table import TableView
    from mlgate.data.validator import build_checks
    from mlgate.reports import write_report

    t0 = time.perf_counter()
    data, ref = load_table(p["data"]), load_table(p["reference"])
    t1 = time.perf_counter()
    schema = load_schema(p["schema"])
    view, train = TableView(data, "data", schema, "target"), TableView(ref, "reference", schema, "target")
    report = _run([view], (train, view), build_checks({}), 0.9, None, None, t1)
    t2 = time.perf_counter()
    write_report(report, Path(p["out"]) / "parts")
    t3 = time.perf_counter()
    return {"seconds": t3 - t0, "read_s": t1 - t0, "checks_and_profile_s": t2 - t1,
            "reports_s": t3 - t2}


def worker_size(p: dict[str, str]) -> dict[str, float]:
    import pandas as pd

    t0 = time.perf_counter()
    frame = pd.read_parquet(p["data"])
    read = time.perf_counter() - t0
    return {"read_seconds": read, "memory_mib": frame.memory_usage(deep=True).sum() / 2**20,
            "rows": len(frame), "columns": frame.shape[1]}


def worker_mlgate_schema(p: dict[str, str]) -> dict[str, float]:
    from mlgate.data.io import load_table
    from mlgate.data.schema import load_schema
    from mlgate.data.table import TableView
    from mlgate.data.validator import build_checks

    frame = load_table(p["data"])
    schema = load_schema(p["schema"])
    checks = build_checks({name: {"enabled": name in SCHEMA_CHECKS} for name in
                           __import__("mlgate.data.checks", fromlist=["DATA_CHECKS"]).DATA_CHECKS})
    t0 = time.perf_counter()
    view = TableView(frame, "data", schema, "target")
    results = [r for c in checks for r in c.run(view)]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "checks": len(results), "failed": sum(not r.passed for r in results)}


def worker_pandera(p: dict[str, str]) -> dict[str, float]:
    import pandas as pd
    import pandera.pandas as pa

    spec = json.loads(Path(p["schema_json"]).read_text())
    frame = pd.read_parquet(p["data"])
    dtypes = {"int": "int64", "float": "float64", "bool": "bool", "string": "str", "category": "str"}
    columns = {}
    for name, col in spec["columns"].items():
        checks = []
        if col.get("min") is not None and col.get("max") is not None:
            checks.append(pa.Check.in_range(col["min"], col["max"]))
        if col.get("categories"):
            checks.append(pa.Check.isin(col["categories"]))
        dtype = "float64" if col["dtype"] == "int" and col["nullable"] else dtypes[col["dtype"]]
        columns[name] = pa.Column(dtype, checks=checks, nullable=col["nullable"])
    schema = pa.DataFrameSchema(columns, strict=False)
    t0 = time.perf_counter()
    schema.validate(frame, lazy=True)
    return {"seconds": time.perf_counter() - t0}


def worker_gx(p: dict[str, str]) -> dict[str, float]:
    import great_expectations as gx
    import pandas as pd

    spec = json.loads(Path(p["schema_json"]).read_text())
    frame = pd.read_parquet(p["data"])
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("bench").add_dataframe_asset("table")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame})
    suite = context.suites.add(gx.ExpectationSuite(name="schema"))
    E = gx.expectations
    types = {"int": "int64", "float": "float64", "string": "str", "category": "str", "bool": "bool"}
    for name, col in spec["columns"].items():
        if not (col["dtype"] == "int" and col["nullable"]):
            suite.add_expectation(E.ExpectColumnValuesToBeOfType(column=name, type_=types[col["dtype"]]))
        if not col["nullable"]:
            suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column=name))
        if col.get("min") is not None:
            suite.add_expectation(E.ExpectColumnValuesToBeBetween(
                column=name, min_value=col["min"], max_value=col["max"]))
        if col.get("categories"):
            suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=name, value_set=col["categories"]))
    t0 = time.perf_counter()
    result = batch.validate(suite)
    return {"seconds": time.perf_counter() - t0, "success": bool(result.success)}


WORKERS = {"read": worker_read, "read-warm": worker_read_warm, "mlgate": worker_mlgate,
           "mlgate-in-memory": worker_mlgate_in_memory,
           "mlgate-infer": worker_mlgate_infer, "mlgate-project": worker_mlgate_project,
           "mlgate-parts": worker_mlgate_parts, "size": worker_size,
           "mlgate-schema": worker_mlgate_schema, "pandera": worker_pandera, "gx": worker_gx}


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median time (the lower middle one of an even number)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return dict(ordered[(len(ordered) - 1) // 2])


def run_worker(name: str, params: dict[str, str], python: str = sys.executable,
               timeout: float = 3000) -> dict[str, float]:
    """Run one measurement in a fresh process; its wall time includes interpreter and imports."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, __file__, "--worker", name, "--params", json.dumps(params)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1], "process_seconds": wall}
    return {**json.loads(lines[-1]), "process_seconds": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ref-rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mlgate-bench"))
    parser.add_argument("--gx-python", help="a Python with great_expectations installed")
    parser.add_argument("--files", type=int, default=1, help="write the data as a folder of this many files")
    parser.add_argument("--only", help="comma-separated measurements (default: all but mlgate-in-memory)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the measurements this many times, interleaved; report each run and the medians")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        out = WORKERS[args.worker](json.loads(args.params))
        print(json.dumps({**out, "peak_mib": round(peak_mib(), 1), "cpu_s": round(cpu_seconds(), 2)}))
        return
    params = prepare(args.dir, args.rows, args.ref_rows, args.files)
    cpu_lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpu_lines if ln.startswith("model name")), "?")
    print(f"machine: nproc={os.cpu_count()}, {cpu}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"data: {args.rows:,} rows x 20 columns (15 numeric, 5 categorical), "
          f"reference {args.ref_rows:,} rows")
    workers = args.only.split(",") if args.only else ["size", "read", "mlgate", "mlgate-parts", "mlgate-schema",
                                                      "pandera"]
    results = {}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in workers}
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine touches every measurement
        for name in workers:
            load = os.getloadavg()[0]
            runs[name].append({**run_worker(name, params), "load_average_before": round(load, 1)})
    for name, measured in runs.items():
        good = [r for r in measured if "seconds" in r]
        results[name] = _median_run(good) if good else measured[-1]
        if args.repeat > 1:
            results[name]["runs"] = [{k: r.get(k) for k in ("seconds", "cpu_s", "peak_mib")} for r in measured]
    if args.gx_python:
        results["gx"] = run_worker("gx", params, python=args.gx_python, timeout=580)
    size = results.get("size", {}).get("memory_mib", float("nan"))
    if "size" in results:
        print(f"in-memory size of the data: {size:,.0f} MiB (read in {results['size'].get('read_seconds', 0):.2f} s)")
    for name, r in results.items():
        if name == "size":
            continue
        if "error" in r:
            print(f"{name:16s} ERROR: {r['error']}")
            continue
        print(f"{name:16s} {r['seconds']:7.2f} s measured, {r['process_seconds']:6.2f} s process "
              f"({r['cpu_s']:6.2f} s CPU), peak {r['peak_mib']:7,.0f} MiB; load average "
              f"{r['load_average_before']} before")
    if args.repeat > 1:
        for name, r in results.items():
            if "runs" in r:
                print(f"{name:16s} runs: " + ", ".join(f"{x['seconds']:.2f} s" for x in r["runs"] if x["seconds"]))
    for read in ("read", "read-warm"):
        if read in results and "seconds" in results[read] and "seconds" in results.get("mlgate", {}):
            ratio = results["mlgate"]["seconds"] / results[read]["seconds"]
            print(f"streamed gate / {read}: time {'the medians: ' if args.repeat > 1 else ''}{ratio:.2f}x")
            if args.repeat > 1:
                best = {n: min(x["seconds"] for x in results[n]["runs"] if x["seconds"]) for n in (read, "mlgate")}
                print(f"streamed gate / {read}: time, the fastest runs: {best['mlgate'] / best[read]:.2f}x")
    parts = results.get("mlgate-parts", {})
    if "read_s" in parts:
        print(f"mlgate parts: read {parts['read_s']:.2f} s, checks + profile "
              f"{parts['checks_and_profile_s']:.2f} s, report files {parts['reports_s']:.2f} s")
    base = results.get("pandera", {}).get("seconds")
    if base and "seconds" in results.get("mlgate-schema", {}):
        print(f"schema checks: mlgate / pandera = {results['mlgate-schema']['seconds'] / base:.2f}x")
    if "gx" in results and "seconds" in results["gx"] and base:
        print(f"schema checks: gx / pandera = {results['gx']['seconds'] / base:.2f}x")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
