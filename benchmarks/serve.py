"""Benchmark: `mlgate serve` against `mlflow models serve --env-manager local`, same run.

The same two trained churn Pipelines (a logistic regression and a histogram gradient
boosting model, preprocessing included) are served by both servers on 127.0.0.1 and loaded
by the same generator (wrk, from Debian's `wrk` package) with single-row MLflow
`dataframe_split` requests to `/invocations` (the endpoint both servers share), at each
concurrency for `--duration` seconds. mlgate runs with its production defaults on: an API
key checked on every request, JSON access log, prediction log, Prometheus metrics; only the
rate limit is off (it would answer 429 to a load test). MLflow runs as a user would run it.

Prints req/s and p50/p95/p99 for both, the ratios, and the in-process floor
(`predict_proba` on one row), and writes them as JSON. Bounded: about
2 models x 2 servers x (len(concurrency) x duration + start-up); the defaults take ~5 min.

    python benchmarks/serve.py                       # 20 s per point, concurrency 1 8 32
    python benchmarks/serve.py --duration 5 --models lr
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # for the tests' _support package

KEY = "bench-key"
WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "non_2xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"timeouts": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, load average at start {load:.1f}"


def wait_ok(url: str, timeout: float = 180.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def run_wrk(url: str, body: str, key: str | None, concurrency: int, duration: float, script: Path) -> dict[str, Any]:
    env = {**os.environ, "BENCH_BODY": body, "BENCH_KEY": key or ""}
    threads = min(concurrency, 2)
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{int(duration)}s", "--timeout", "10s",
           "-s", str(script), f"{url}/invocations"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=duration + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout} {done.stderr}")
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def in_process_floor(folder: Path, n: int = 300) -> dict[str, float]:
    """Median milliseconds of predict_proba on one row: sklearn on a DataFrame, and mlgate's path."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from mlgate.serve.model import ServedModel

    model = ServedModel.load(folder, version="1")
    row = model.example
    frame = pd.DataFrame([row])
    cols = model.schema.columns([row], "features", False, 1)

    def median_ms(call: Any) -> float:
        call()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    with threadpool_limits(1):
        return {"sklearn_dataframe_ms": median_ms(lambda: model.estimator.predict_proba(frame)),
                "mlgate_columns_ms": median_ms(lambda: model.predict(cols))}


def breakdown(folder: Path, n: int = 500) -> dict[str, float]:
    """Median microseconds of each part of one single-row request, measured in-process."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from mlgate.serve.app import _render
    from mlgate.serve.jsonlog import JsonLineWriter
    from mlgate.serve.metrics import ServerMetrics
    from mlgate.serve.model import ServedModel
    from mlgate.serve.schema import parse_json

    model = ServedModel.load(folder, version="1")
    row = model.example
    raw = json.dumps({"dataframe_split": {"columns": list(row), "data": [list(row.values())]}}).encode()
    body = parse_json(raw)
    rows, field = model.schema.rows_from_invocations(body)
    cols = model.schema.columns(rows, field, True, 10)
    out = model.predict(cols)
    metrics = ServerMetrics("1")
    with tempfile.TemporaryDirectory() as log_dir:
        writer = JsonLineWriter(folder=Path(log_dir), expand=lambda item: [item])
        parts = {
            "json_parse": lambda: parse_json(raw),
            "validate_to_columns": lambda: model.schema.columns(
                model.schema.rows_from_invocations(body)[0], field, True, 10),
            "dataframe_build": lambda: pd.DataFrame(cols, copy=False),
            "sklearn_predict_proba_dataframe": lambda: model.estimator.predict_proba(pd.DataFrame(cols)),
            "mlgate_fast_path_predict": lambda: model.predict(cols),
            "response_json": lambda: _render(out, True, True, model, "rid"),
            "metrics_update": lambda: metrics.answered("invocations", 1, 0.001),
            "prediction_log_put": lambda: writer.put({"x": 1}),
        }
        result = {}
        with threadpool_limits(1):
            for name, call in parts.items():
                call()
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    call()
                    times.append((time.perf_counter() - t0) * 1e6)
                result[name] = statistics.median(times)
        writer.close()
    return result


def bench_server(name: str, start: Any, url: str, body: str, key: str | None, args: argparse.Namespace,
                 script: Path) -> dict[int, dict[str, Any]]:
    results = {}
    with start:  # a context manager that starts the server on entry
        wait_ok(f"{url}/ping")
        for _ in range(30):  # warm-up
            req = urllib.request.Request(f"{url}/invocations", data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {key}"} if key else {})})
            urllib.request.urlopen(req, timeout=10).read()
        for c in args.concurrency:
            r = run_wrk(url, body, key, c, args.duration, script)
            results[c] = r
            print(f"  {name:7s} c={c:<3d} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f}  p95 {r['p95_ms']:7.2f}  "
                  f"p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non_2xx']}  errors "
                  f"{r['connect_errors'] + r['read_errors'] + r['write_errors'] + r['timeouts']}", flush=True)
    return results


class MlflowServer:
    def __init__(self, folder: Path, port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.extra_env = env or {}
        self.cmd = [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", str(folder),
                    "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MlflowServer:
        # MLflow starts `uvicorn` from PATH: make it this environment's.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", "PATH": path, **self.extra_env}
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(self.cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--models", nargs="+", default=["lr", "gbm"], choices=["lr", "gbm"])
    parser.add_argument("--mlflow-one-thread", action="store_true",
                        help="also run MLflow with OMP_NUM_THREADS=1 (mlgate's thread setting)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from _support.serve import build_model
    from mlgate.serve.process import ServerProcess, free_port

    print(machine(), flush=True)
    report: dict[str, Any] = {"machine": machine(), "duration_s": args.duration, "models": {}}
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)
        config = tmp / "mlgate.yaml"
        config.write_text('project: bench\ndata: {train: unused.csv}\nserve: {rate_limit: "off"}\n')
        for kind in args.models:
            folder = build_model(tmp / f"model-{kind}", kind, n_rows=5000)
            floor = in_process_floor(folder)
            parts = breakdown(folder)
            print(f"{kind}: one request's parts (median us): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()), flush=True)
            from mlgate.serve.model import ServedModel

            row = ServedModel.load(folder, version="1").example
            body = json.dumps({"dataframe_split": {"columns": list(row), "data": [list(row.values())]}})
            print(f"{kind}: in-process floor {floor['sklearn_dataframe_ms']:.3f} ms (sklearn, DataFrame), "
                  f"{floor['mlgate_columns_ms']:.3f} ms (mlgate column path)", flush=True)
            port = free_port()
            mlflow = bench_server("mlflow", MlflowServer(folder, port, tmp / f"mlflow-{kind}.log"),
                                  f"http://127.0.0.1:{port}", body, None, args, script)
            mlflow1 = None
            if args.mlflow_one_thread:
                port1 = free_port()
                mlflow1 = bench_server("mlflow1", MlflowServer(folder, port1, tmp / f"mlflow1-{kind}.log",
                                                               {"OMP_NUM_THREADS": "1"}),
                                       f"http://127.0.0.1:{port1}", body, None, args, script)
            gate_port = free_port()
            mlgate = bench_server(
                "mlgate",
                ServerProcess(str(folder), config_path=config, port=gate_port, api_keys=[KEY],
                                      extra_args=["--prediction-log", str(tmp / f"log-{kind}"),
                                                  "--model-version", "1"], timeout=120),
                f"http://127.0.0.1:{gate_port}", body, KEY, args, script)
            ratios = {c: {"throughput_x": mlgate[c]["rps"] / mlflow[c]["rps"],
                          "p50_ratio": mlgate[c]["p50_ms"] / mlflow[c]["p50_ms"],
                          "p99_ratio": mlgate[c]["p99_ms"] / mlflow[c]["p99_ms"]} for c in args.concurrency}
            for c, r in ratios.items():
                print(f"  ratio   c={c:<3d} throughput {r['throughput_x']:.2f}x  p50 {r['p50_ratio']:.2f}  "
                      f"p99 {r['p99_ratio']:.2f} (mlgate / mlflow)", flush=True)
            report["models"][kind] = {"floor": floor, "breakdown_us": parts, "mlflow": mlflow,
                                      "mlgate": mlgate, "ratios": ratios}
            if mlflow1 is not None:
                report["models"][kind]["mlflow_omp1"] = mlflow1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
