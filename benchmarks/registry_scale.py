"""Concurrent `mlgate register` on the embedded SQLite store vs an MLflow tracking server on
PostgreSQL, and `mlgate tune` with 1 and 2 workers on a PostgreSQL study. Same machine, same run.

For each store and N in (1, 4, 8), N `mlgate register` processes start at once on one model
name (each a CI job: Python start-up and `import mlflow` included); the figure is the wall
time until all have finished, registrations per second (successful processes / wall time),
failures (non-zero exits) and whether the store holds exactly N versions, each with its
hash tag. The SQLite store is migrated before timing (a fresh one costs ~1.5 s once).
Then `mlgate tune` runs the same number of trials on PostgreSQL with `--workers 1` and
`--workers 2`, on a fresh study each.

    python benchmarks/registry_scale.py [--trials 8] [--model-type gradient-boosting]

Needs PostgreSQL 15's server programs (Debian's postgresql-15) and mlgate[postgres]; run as
root or as a user that may run `initdb`. Writes benchmarks/results/registry_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _pg import Stack  # noqa: E402  (tests/_pg.py: the same throwaway cluster the tests use)

MLGATE = str(Path(sys.executable).with_name("mlgate"))


def _model(folder: Path) -> Path:
    """A logistic-regression pipeline on 1,000 churn rows, saved as an MLflow model folder."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlgate.examples.churn import generate
    from mlgate.models import save_model

    frame = generate(1000, seed=3).dropna()
    x = frame.drop(columns=["target", "customer_id"])
    pre = make_column_transformer(
        (StandardScaler(), make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")))
    model = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(x, frame["target"])
    meta = {"name": "churn", "model_type": "logistic-regression", "task": "binary", "target": "target",
            "features": list(x.columns)}
    return save_model(model, folder, meta, x.head(3))


def _env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CI_"))}
    return {**env, "MLFLOW_TRACKING_URI": uri, "MLGATE_RETRY_SECONDS": "120"}


def _registers(uri: str, model: Path, name: str, n: int, cwd: Path) -> dict[str, Any]:
    from mlflow import MlflowClient

    cwd.mkdir(parents=True, exist_ok=True)
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    procs = [subprocess.Popen([MLGATE, "register", "--model", str(model), "--name", name, "--output", f"out{i}"],
                              cwd=cwd, env={**_env(uri), "CI_JOB_ID": f"job-{i}"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    outcomes = [p.communicate(timeout=900) for p in procs]
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    failures = [err.strip().splitlines()[-1:] for p, (_, err) in zip(procs, outcomes, strict=True) if p.returncode]
    versions = MlflowClient(uri, registry_uri=uri).search_model_versions(f"name = '{name}'")
    tagged = sum(1 for v in versions if len(v.tags.get("mlgate.model_sha256", "")) == 64)
    ok = n - len(failures)
    return {"n": n, "wall_s": round(wall, 2), "client_cpu_s": round(cpu, 1),
            "registrations_per_s": round(ok / wall, 3), "failures": len(failures),
            "failure_lines": failures[:3], "versions": len(versions), "versions_with_tags": tagged}


def _tune(project: Path, storage: str, workers: int, trials: int, model_type: str) -> dict[str, Any]:
    import optuna

    study = f"bench-{workers}w"
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run([MLGATE, "tune", "--workers", str(workers), "--n-trials", str(trials), "--storage", storage,
                           "--study-name", study, "--model-type", model_type, "--output", f"tune-{workers}w"],
                          cwd=project, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"mlgate tune --workers {workers} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    states = [t.state.name for t in optuna.load_study(study_name=study, storage=storage).trials]
    return {"workers": workers, "trials": len(states), "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"), "wall_s": round(wall, 2), "cpu_s": round(_children_cpu() - cpu0, 1)}


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (the figure load does not inflate)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _project(folder: Path, rows: int) -> Path:
    from mlgate.examples.churn import write_example

    write_example(folder, n_rows=rows)
    cfg = yaml.safe_load((folder / "mlgate.yaml").read_text())
    cfg["tune"] = {"enabled": True, "cv_folds": 3}
    (folder / "mlgate.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,4,8")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--model-type", default="gradient-boosting")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    root = Path(tempfile.mkdtemp(prefix="mlgate-bench-scale-"))
    model = _model(root / "model")
    load_before = os.getloadavg()
    stack = Stack(root / "stack")
    try:
        sqlite_uri = f"sqlite:///{root / 'sqlite' / 'mlflow.db'}"
        (root / "sqlite").mkdir()
        from mlflow import MlflowClient

        MlflowClient(sqlite_uri).search_experiments()  # migrate before timing
        register: dict[str, list[dict[str, Any]]] = {"sqlite": [], "server+postgresql": []}
        for n in counts:
            register["sqlite"].append(_registers(sqlite_uri, model, f"bench-{n}", n, root / "jobs-sqlite" / str(n)))
            register["server+postgresql"].append(
                _registers(stack.tracking_uri, model, f"bench-{n}", n, root / "jobs-server" / str(n)))
            print(f"N={n}: sqlite {register['sqlite'][-1]}\n      server {register['server+postgresql'][-1]}",
                  flush=True)
        project = _project(root / "project", args.rows)
        tune = [_tune(project, stack.optuna_url(f"optuna_{w}w"), w, args.trials, args.model_type) for w in (1, 2)]
        print(f"tune: {tune}", flush=True)
    finally:
        stack.close()
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
              "stack_start": stack.timings, "register": register,
              "tune": {"model_type": args.model_type, "rows": args.rows, "trials": args.trials, "runs": tune}}
    out = HERE / "results" / "registry_scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    _print_tables(result)


def _print_tables(result: dict[str, Any]) -> None:
    print(f"\nmachine: {result['machine']}; load {result['load_before']} -> {result['load_after']}")
    print("| N | SQLite reg/s | SQLite failures | server+PG reg/s | server+PG failures | ratio (server/SQLite) |")
    print("|---|---|---|---|---|---|")
    for lite, srv in zip(result["register"]["sqlite"], result["register"]["server+postgresql"], strict=True):
        ratio = srv["registrations_per_s"] / lite["registrations_per_s"] if lite["registrations_per_s"] else 0
        print(f"| {lite['n']} | {lite['registrations_per_s']:.2f} ({lite['wall_s']} s) | {lite['failures']} | "
              f"{srv['registrations_per_s']:.2f} ({srv['wall_s']} s) | {srv['failures']} | {ratio:.2f}x |")
    runs = result["tune"]["runs"]
    print(f"\ntune {result['tune']['model_type']}, {result['tune']['trials']} trials: "
          + ", ".join(f"{r['workers']} worker(s) {r['wall_s']} s" for r in runs)
          + f"; speed-up {runs[0]['wall_s'] / runs[1]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
