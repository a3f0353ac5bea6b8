"""Benchmark: `mlgate serve` against `mlflow models serve --env-manager local`, same run.

The same two trained churn Pipelines (a logistic regression and a histogram gradient
boosting model, preprocessing included) are served by both servers on 127.0.0.1 and loaded
by the same generator (wrk, from Debian's `wrk` package) with single-row MLflow
`dataframe_split` requests to `/invocations` (the endpoint both servers share), at each
concurrency for `--duration` seconds. mlgate runs with its production defaults on: an API
key checked on every request, JSON access log, prediction log, Prometheus metrics; the rate
limit is on with a limit a load test does not reach (10,000,000/second), so its cost counts.
MLflow runs as a user would run it.

The third side is the floor: a bare server (``bare_app`` below: a raw ASGI app on uvicorn
with httptools and uvloop, one worker, one model thread) that parses ``{"features": [...]}``,
predicts one row and answers JSON: no auth, validation, logs or metrics. It calls the same
verified column fast path as mlgate (built once at start-up), so mlgate / bare is the cost
of mlgate's own features. Bare and mlgate are compared on ``/predict`` with the same
``{"features": [...]}`` body; mlgate and MLflow on ``/invocations`` with ``dataframe_split``.

Before the load, in-process and free of the load generator's noise: each part of one
request (``breakdown``), one whole request through each ASGI app alternated with the bare
one, in wall time and in the event-loop thread's CPU time, with both logs on and off
(``asgi_request_cost``), and the model call alone in both servers with the thread counts
and input dtypes each runs under (``model_call_parity``).

Prints req/s and p50/p95/p99 for both, the ratios, and the in-process floor
(`predict_proba` on one row), and writes them as JSON. Bounded: about
2 models x 3 servers x (len(concurrency) x duration + start-up) plus about a minute in
process per model.

    python benchmarks/serve.py --duration 20 --concurrency 1 32   # issue 16's run, ~8 min
    python benchmarks/serve.py --duration 5 --models lr
    python benchmarks/serve.py --in-process-only                  # no wrk, about 2 min
    python benchmarks/serve.py --quick                            # issue 25's tail check, ~3.5 min
    python benchmarks/serve.py --quick --duration 10 --rounds 5   # the same, longer points
    python benchmarks/serve.py --diagnose --models lr --duration 8 --concurrency 32

With both the floor and mlgate among ``--sides`` the two run side by side in ``--rounds``
rounds (both servers up, each point driven on one then the other, the order alternating by
round), and a ratio table ends the output: per concurrency and figure, the floor's and
mlgate's medians over rounds with their range, the mlgate / floor ratio of each round (median
and range), the issue's target and the load average during the points. ``--quick`` is that
check alone (floor and mlgate, both models, concurrency 1 and 32, 5 s points, 3 rounds).
``--diagnose`` runs mlgate instrumented (see ``probe_server``), all defaults on and then each
feature off in turn, to show where the time of the tail goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
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


def run_wrk(url: str, body: str, key: str | None, concurrency: int, duration: float, script: Path,
            path: str = "/invocations") -> dict[str, Any]:
    env = {**os.environ, "BENCH_BODY": body, "BENCH_KEY": key or ""}
    threads = min(concurrency, 2)
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{int(duration)}s", "--timeout", "10s",
           "-s", str(script), f"{url}{path}"]
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
    """Median microseconds of each part of one single-row ``/predict`` request, in-process.

    Each part is the call the request path makes (mlgate.serve.app.Server.handle and the
    access-log layer), defaults on: API key, rate limit, validation, both logs, metrics.
    The logs' ``put`` is what a request pays; the background thread's serialization is
    timed apart (``*_write_per_line``) since it shares the GIL with the event loop.
    """
    from threadpoolctl import threadpool_limits

    from mlgate.serve.app import _access_record, _render, _request_id
    from mlgate.serve.auth import KeyStore, hash_key, presented_key
    from mlgate.serve.jsonlog import JsonLineWriter
    from mlgate.serve.metrics import ServerMetrics
    from mlgate.serve.model import ServedModel
    from mlgate.serve.ratelimit import RateLimiter, parse_rate
    from mlgate.serve.schema import parse_json

    model = ServedModel.load(folder, version="1")
    schema = model.schema
    row = model.example
    raw = json.dumps({"features": list(row.values())}).encode()
    body = parse_json(raw)
    rows, batch, field = schema.rows_from_predict(body)
    cols = schema.columns(rows, field, batch, 10)
    out = model.predict(cols)
    metrics = ServerMetrics("1")
    keys = KeyStore([hash_key(KEY)])
    limiter = RateLimiter(*parse_rate("10000000/second"))
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json",
               "content-length": str(len(raw))}
    from mlgate.serve.front import headers_of

    scope = {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    access = (time.time(), "POST", "/predict", 200, 0.001234, ("127.0.0.1", 40000), "rid", "1")
    with tempfile.TemporaryDirectory() as log_dir, open(os.devnull, "w") as devnull:
        from mlgate.serve.app import Server
        from mlgate.serve.settings import ServeSettings

        server = Server(ServeSettings(model_path=str(folder), model_source=str(folder), model_version="1",
                                      prediction_log=log_dir), model)
        pred_writer = server.prediction_log
        access_writer = JsonLineWriter(devnull, expand=_access_record)
        assert pred_writer is not None
        pred_item = ("rid", "predict", time.time(), cols, out, "1", "stable")
        parts = {
            "headers": lambda: headers_of(scope),
            "request_id": lambda: _request_id(headers),
            "parse_json": lambda: parse_json(raw),
            "auth": lambda: keys.check(presented_key(headers)),
            "rate_limit": lambda: limiter.acquire("key:0123456789abcdef"),
            "validation": lambda: schema.columns(schema.rows_from_predict(body)[0], field, batch, 10),
            # the value-by-value path, which the one-row path above falls back to (not on the path)
            "validation_checked_off_path": lambda: schema._checked_columns(rows, field, batch),
            "predict": lambda: model.predict(cols),
            "render": lambda: _render(out, batch, False, model, "rid"),
            "access_log_put": lambda: access_writer.put(access),
            "prediction_log_put": lambda: pred_writer.put(pred_item),
            "metrics": lambda: metrics.answered("predict", 1, 0.001),
            # off the request path (background thread), but on the same cores and GIL
            "prediction_log_write_per_line": lambda: pred_writer._lines(pred_item),
            "access_log_write_per_line": lambda: access_writer._lines(access),
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
        server.close()
        access_writer.close()
    result["mlgate_parts_total_on_path"] = sum(v for k, v in result.items()
                                               if k != "predict" and "_per_line" not in k and "off_path" not in k)
    return result


def asgi_request_cost(folder: Path, n: int = 400, logs: bool = True) -> dict[str, float]:
    """Median microseconds of one whole single-row ``/predict`` request through each ASGI app,
    in-process (no sockets): mlgate with its defaults on, and the bare app; their difference is
    mlgate's own cost per request, free of the HTTP load generator's noise.

    ``logs=False`` turns both logs (and so their writer threads) off: the difference between
    the two runs is what the writer threads cost the request path through the shared GIL.
    """

    from threadpoolctl import threadpool_limits

    from mlgate.serve.app import create_app
    from mlgate.serve.auth import hash_key
    from mlgate.serve.model import ServedModel
    from mlgate.serve.settings import ServeSettings

    row = ServedModel.load(folder, version="1").example
    body = json.dumps({"features": list(row.values())}).encode()
    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def paired(gate: Any, bare: Any) -> dict[str, float]:
        # Alternate the two apps request by request, so a busy machine slows both alike, and
        # take the median of the paired differences. The event loop thread's CPU time
        # (thread_time) is measured too: it leaves out time the scheduler gave to other
        # processes, the largest noise on a shared machine (and, by design, the writer threads).
        walls: tuple[list[float], list[float]] = ([], [])
        cpus: tuple[list[float], list[float]] = ([], [])
        for i in range(n + 20):
            for side, app in enumerate((bare, gate)):
                c0, t0 = time.thread_time(), time.perf_counter()
                await app(dict(scope), receive, send)
                if i >= 20:
                    walls[side].append((time.perf_counter() - t0) * 1e6)
                    cpus[side].append((time.thread_time() - c0) * 1e6)

        def diff(pair: tuple[list[float], list[float]]) -> float:
            return statistics.median(g - b for b, g in zip(*pair, strict=True))

        return {"bare_us": statistics.median(walls[0]), "mlgate_us": statistics.median(walls[1]),
                "mlgate_minus_bare_us": diff(walls), "bare_cpu_us": statistics.median(cpus[0]),
                "mlgate_cpu_us": statistics.median(cpus[1]), "mlgate_minus_bare_cpu_us": diff(cpus)}

    with tempfile.TemporaryDirectory() as log_dir, open(os.devnull, "w") as devnull:
        settings = ServeSettings(model_path=str(folder), model_source=str(folder), model_version="1",
                                 key_hashes=[hash_key(KEY)], rate_limit="10000000/second",
                                 prediction_log=log_dir if logs else None, access_log=logs)
        stderr, sys.stderr = sys.stderr, devnull  # the access log's lines, not the terminal
        try:
            gate = create_app(settings)
        finally:
            sys.stderr = stderr
        os.environ["BENCH_MODEL"] = str(folder)
        bare = bare_app()
        with threadpool_limits(1):
            result = _run_on_server_loop(paired(gate, bare))
        gate.state.server.close()
    if set(statuses) != {200}:
        raise RuntimeError(f"in-process requests answered {sorted(set(statuses))}")
    result["ratio"] = result["mlgate_us"] / result["bare_us"]
    return result


def _run_on_server_loop(coro: Any) -> Any:
    """Run on uvloop, the loop uvicorn picks (``--loop auto``) when it is installed, as both servers do."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return asyncio.run(coro)
    return uvloop.run(coro)


def model_call_parity(folder: Path, n: int = 400) -> dict[str, Any]:
    """Is the model call the same in both servers? The bare app's call on its own input
    (``np.array([v])`` per column, as it builds them) against mlgate's ``ServedModel.predict``
    on validated columns, alternated call by call (median us, and of the paired differences),
    with the OpenMP / BLAS thread counts each runs under."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from mlgate.serve.model import ServedModel

    model = ServedModel.load(folder, version="1")
    fast, names = model._fast, model.schema.names
    assert fast is not None
    values = list(model.example.values())
    bare_cols = {k: np.array([v]) for k, v in zip(names, values, strict=True)}
    gate_cols = model.schema.columns([values], "features", False, 1)
    with threadpool_limits(1):
        threads = {i["internal_api"]: i["num_threads"] for i in threadpool_info()}
        bare_us, gate_us = [], []
        for i in range(n + 20):
            t0 = time.perf_counter()
            fast.final.predict_proba(fast(bare_cols))  # type: ignore[attr-defined]
            t1 = time.perf_counter()
            model.predict(gate_cols)
            t2 = time.perf_counter()
            if i >= 20:
                bare_us.append((t1 - t0) * 1e6)
                gate_us.append((t2 - t1) * 1e6)
    return {"bare_predict_us": statistics.median(bare_us), "mlgate_predict_us": statistics.median(gate_us),
            "mlgate_minus_bare_us": statistics.median(g - b for g, b in zip(gate_us, bare_us, strict=True)),
            "threads": threads, "bare_input_dtypes": sorted({a.dtype.str for a in bare_cols.values()}),
            "mlgate_input_dtypes": sorted({a.dtype.str for a in gate_cols.values()})}


def build_wide_model(folder: Path, kind: str, n_rows: int = 50_000, n_features: int = 20) -> Path:
    """Issue 25's models: 50,000 x 20 numeric features (``make_classification``), a scaled
    logistic regression (``lr-wide``) or a histogram gradient boosting classifier (``gbm-wide``),
    saved as mlgate saves a registered model (MLflow sklearn flavor + mlgate.json)."""
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlgate.models import save_model

    X_arr, y = make_classification(n_samples=n_rows, n_features=n_features, n_informative=10, random_state=0)
    X = pd.DataFrame(X_arr, columns=[f"f{i}" for i in range(n_features)])
    estimator = (make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)) if kind == "lr-wide"
                 else HistGradientBoostingClassifier(random_state=0))
    estimator.fit(X, y)
    info = {"name": "wide", "model_type": {"lr-wide": "logistic-regression"}.get(kind, "hist-gradient-boosting"),
            "task": "binary", "target": "y", "features": list(X.columns),
            "dtypes": {c: "float64" for c in X.columns}, "classes": [0, 1], "metrics": {"roc_auc": 0.9},
            "git_commit": "0123abc", "trained_at": "2026-12-06T00:00:00+00:00"}
    return save_model(estimator, folder, info, X.head(5))


def make_model(folder: Path, kind: str) -> Path:
    """``lr``/``gbm``: the churn Pipelines (preprocessing included, 5,000 rows);
    ``lr-wide``/``gbm-wide``: issue 25's 50,000 x 20 numeric models."""
    if kind.endswith("-wide"):
        return build_wide_model(folder, kind)
    from _support.serve import build_model

    return build_model(folder, kind, n_rows=5000)


def bare_app() -> Any:
    """The floor: a raw ASGI app (uvicorn factory) that predicts ``{"features": [...]}``, nothing else.

    The model folder comes from ``BENCH_MODEL``; the fast path is built once, here.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    from mlgate.serve.model import ServedModel

    threadpool_limits(1)
    model = ServedModel.load(os.environ["BENCH_MODEL"], version="1")
    fast = model._fast
    if fast is None:
        raise RuntimeError("the bare server needs the model's column fast path")
    final, names, classes = fast.final, model.schema.names, model.classes
    assert classes is not None
    if os.environ.get("BENCH_FLOOR_FREEZE", "1") == "1":  # as mlgate serve does: no full collection
        import gc  # walks the start-up heap (about 0.1 s with the loop stopped) during the load

        gc.collect()
        gc.freeze()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if scope["path"] == "/ping":
            payload = b"\n"
        else:
            features = json.loads(b"".join(chunks))["features"]
            cols = {k: np.array([v]) for k, v in zip(names, features, strict=True)}
            proba = final.predict_proba(fast(cols))[0]
            payload = json.dumps({"prediction": classes[int(proba.argmax())],
                                  "probability": float(proba[-1])}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    return app


class BareServer:
    """``uvicorn --factory serve:bare_app`` with httptools and uvloop, one worker."""

    def __init__(self, folder: Path, port: int, log: Path) -> None:
        self.cmd = [sys.executable, "-m", "uvicorn", "--factory", "serve:bare_app", "--app-dir",
                    str(ROOT / "benchmarks"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                    "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
        self.env = {**os.environ, "BENCH_MODEL": str(folder), "OMP_NUM_THREADS": "1"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BareServer:
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(self.cmd, stdout=fh, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    import signal

    assert proc is not None
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def bench_server(name: str, start: Any, url: str, key: str | None, args: argparse.Namespace,
                 script: Path, loads: dict[str, tuple[str, str]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Start a server, then drive each ``label: (path, body)`` load at every concurrency."""
    results: dict[str, dict[int, dict[str, Any]]] = {}
    with start:  # a context manager that starts the server on entry
        wait_ok(f"{url}/ping")
        for label, (path, body) in loads.items():
            for _ in range(30):  # warm-up
                req = urllib.request.Request(f"{url}{path}", data=body.encode(), method="POST",
                                             headers={"Content-Type": "application/json",
                                                      **({"Authorization": f"Bearer {key}"} if key else {})})
                urllib.request.urlopen(req, timeout=10).read()
            results[label] = {}
            for c in args.concurrency:
                r = run_wrk(url, body, key, c, args.duration, script, path)
                results[label][c] = r
                print(f"  {name:7s} {path:12s} c={c:<3d} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f}  "
                      f"p95 {r['p95_ms']:7.2f}  p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non_2xx']}  errors "
                      f"{r['connect_errors'] + r['read_errors'] + r['write_errors'] + r['timeouts']}", flush=True)
        if name == "mlgate":  # lines the log writers could not keep, from the server's own metric
            with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
                text = r.read().decode()
            dropped = {m[0]: float(m[1]) for m in re.findall(r'^ml_log_lines_dropped_total\{log="(\w+)"\} (\S+)$',
                                                             text, re.M)}
            results["log_lines_dropped"] = dropped  # type: ignore[assignment]
            print(f"  mlgate  ml_log_lines_dropped_total {dropped}", flush=True)
    return results


def ratios(ours: dict[int, dict[str, Any]], other: dict[int, dict[str, Any]], label: str) -> dict[int, Any]:
    out = {c: {"throughput_x": ours[c]["rps"] / other[c]["rps"], "p50_ratio": ours[c]["p50_ms"] / other[c]["p50_ms"],
               "p99_ratio": ours[c]["p99_ms"] / other[c]["p99_ms"]} for c in ours if c in other}
    for c, r in out.items():
        print(f"  ratio   c={c:<3d} throughput {r['throughput_x']:.2f}x  p50 {r['p50_ratio']:.2f}  "
              f"p99 {r['p99_ratio']:.2f} ({label})", flush=True)
    return out


def _warm(url: str, path: str, body: str, key: str | None, n: int = 30) -> None:
    for _ in range(n):
        req = urllib.request.Request(f"{url}{path}", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
        urllib.request.urlopen(req, timeout=10).read()


def _metric(url: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric family from a server's ``/metrics``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {m[0]: float(m[1]) for m in re.findall(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M)}


def tail_rounds(folder: Path, kind: str, tmp: Path, args: argparse.Namespace, script: Path,
                config: Path, body: str) -> dict[str, Any]:
    """The floor (bare) and mlgate, both running, driven in turn on ``/predict``: each round runs
    every concurrency on both sides back to back (which side goes first alternates by round),
    with the load average read before each point. Ratios are taken within a round, so a busy
    machine slows both sides of one ratio alike; the median and the spread are over rounds.

    Then the prediction log is checked against the server's own count of answered requests
    (``ml_prediction_requests_total``, warm-up included), after a graceful stop has flushed it.
    """
    from mlgate.serve.process import ServerProcess, free_port

    log_dir = tmp / f"log-{kind}"
    bare_port = free_port()
    bare_url, gate_port = f"http://127.0.0.1:{bare_port}", free_port()
    gate = ServerProcess(str(folder), config_path=config, port=gate_port, api_keys=[KEY],
                         extra_args=["--prediction-log", str(log_dir), "--model-version", "1"], timeout=120)
    points: list[dict[str, Any]] = []
    with BareServer(folder, bare_port, tmp / f"bare-{kind}.log"):
        wait_ok(f"{bare_url}/ping")
        with gate:
            sides = {"bare": (bare_url, None), "mlgate": (gate.url, KEY)}
            for url, key in sides.values():
                _warm(url, "/predict", body, key)
            for rnd in range(args.rounds):
                for c, sub, seconds in _points(args):
                    order = list(sides) if (rnd + sub) % 2 == 0 else list(reversed(sides))
                    for side in order:
                        url, key = sides[side]
                        load = os.getloadavg()[0]
                        r = run_wrk(url, body, key, c, seconds, script, "/predict")
                        r.update(side=side, round=rnd + 1 + sub / 100, concurrency=c, load=load)
                        points.append(r)
                        print(f"  round {r['round']:<5g} {side:6s} c={c:<3d} {r['rps']:8.0f} req/s  p50 "
                              f"{r['p50_ms']:7.2f}  p99 {r['p99_ms']:7.2f}  max {r['max_ms']:7.1f} ms  "
                              f"load {load:.1f}  non-2xx {r['non_2xx']}  errors "
                              f"{r['connect_errors'] + r['read_errors'] + r['write_errors'] + r['timeouts']}",
                              flush=True)
            time.sleep(0.5)  # requests in flight when wrk stopped are answered
            answered = sum(v for k, v in _metric(gate.url, "ml_prediction_requests_total").items()
                           if 'endpoint="predict"' in k)
            dropped = _metric(gate.url, "ml_log_lines_dropped_total")
        # the graceful stop flushed the writer: every answered request must have its line
    lines = count_lines(log_dir)
    wrk_answered = sum(p["requests"] - p["non_2xx"] for p in points if p["side"] == "mlgate")
    log = {"lines": lines, "answered_by_server": int(answered), "answered_counted_by_wrk": wrk_answered,
           "warm_up": 30, "dropped_metric": dropped, "missing": int(answered) - lines}
    print(f"  prediction log: {lines} lines; the server answered {int(answered)} /predict requests "
          f"(wrk counted {wrk_answered} + 30 warm-up); missing {log['missing']}; "
          f"ml_log_lines_dropped_total {dropped}", flush=True)
    return {"points": points, "prediction_log": log, "summary": tail_summary(points)}


def _points(args: argparse.Namespace) -> list[tuple[int, int, float]]:
    """One round's points as (concurrency, sub-point, seconds). At concurrency 1 the median is
    a difference of about 0.1 ms on 0.5 ms, which a shared machine's drift over a 5 s point
    swamps: ``--c1-points`` splits it into short pairs of 1 s points (the order alternating
    pair by pair), each pair a ratio of its own."""
    out: list[tuple[int, int, float]] = []
    for c in args.concurrency:
        if c == 1 and args.c1_points:
            out += [(1, j, 1.0) for j in range(max(1, args.c1_points // args.rounds))]
        else:
            out.append((c, 0, args.duration))
    return out


TARGETS = {("p99_ms", 32): ("<=", 1.5), ("p50_ms", 1): ("<=", 1.25), ("rps", 32): (">=", 1.0)}


def tail_summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Per concurrency and figure: each side's median and range over rounds, and the
    mlgate / bare ratio of each round (median and range)."""
    out: dict[str, Any] = {}
    for c in sorted({p["concurrency"] for p in points}):
        rounds = sorted({p["round"] for p in points if p["concurrency"] == c})
        by = {(p["side"], p["round"]): p for p in points if p["concurrency"] == c}
        for fig in ("rps", "p50_ms", "p99_ms"):
            bare = [by["bare", r][fig] for r in rounds if ("bare", r) in by]
            gate = [by["mlgate", r][fig] for r in rounds if ("mlgate", r) in by]
            ratio = [by["mlgate", r][fig] / by["bare", r][fig] for r in rounds
                     if ("bare", r) in by and ("mlgate", r) in by and by["bare", r][fig] > 0]
            loads = [by[s, r]["load"] for s in ("bare", "mlgate") for r in rounds if (s, r) in by]
            if not ratio:
                continue
            entry = {"bare": bare, "mlgate": gate, "ratios": ratio, "ratio_median": statistics.median(ratio),
                     "loads": loads}
            if (fig, c) in TARGETS:
                op, limit = TARGETS[fig, c]
                entry["target"] = f"{op} {limit}"
                entry["met"] = entry["ratio_median"] <= limit if op == "<=" else entry["ratio_median"] >= limit
            out[f"c{c}_{fig}"] = entry
    return out


def print_tail_table(kind: str, summary: dict[str, Any]) -> None:
    """The ratio table: medians over rounds, [min-max] in brackets."""
    def span(values: list[float], fmt: str) -> str:
        return f"{format(statistics.median(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"

    print(f"{kind}: mlgate (every default on) / floor, same run; median over rounds [min-max]")
    print(f"  {'point':12s} {'floor':>24s} {'mlgate':>24s} {'ratio':>20s}  target   verdict  load")
    for name, e in summary.items():
        fmt = ".0f" if name.endswith("rps") else ".2f"
        verdict = "" if "met" not in e else ("met" if e["met"] else "MISSED")
        print(f"  {name:12s} {span(e['bare'], fmt):>24s} {span(e['mlgate'], fmt):>24s} "
              f"{span(e['ratios'], '.2f'):>20s}  {e.get('target', ''):7s}  {verdict:7s}  "
              f"{min(e['loads']):.1f}-{max(e['loads']):.1f}", flush=True)


PROBE_FEATURES = ("freeze", "logs", "auth", "rate_limit")


def probe_server(kind_folder: str, port: int, off: list[str], out: str) -> None:
    """The child of ``--diagnose``: mlgate's app on uvicorn (uvloop, httptools), as `mlgate serve`
    runs it, with every default on except the features in ``off``, instrumented:

    - each garbage collection's generation and pause, in the event-loop thread's CPU time
      (``time.thread_time``: what the collection itself cost, not time the OS gave others);
    - the event loop's turns: a task that sleeps 1 ms records, per wake-up, how much CPU
      the loop thread spent since the last one (a turn that runs long without yielding) and
      the wall-clock overshoot;
    - the CPU time of every other thread (the log writers), which hold the GIL while they work;
    - per request, the time inside the application (front door in to reply sent).
    Writes a JSON summary to ``out`` at shutdown.
    """
    import asyncio
    import gc

    import uvicorn
    import uvloop

    from mlgate.serve import front
    from mlgate.serve.app import create_app, freeze_start_up_heap
    from mlgate.serve.auth import hash_key
    from mlgate.serve.settings import ServeSettings

    log_dir = tempfile.mkdtemp(prefix="mlgate-probe-")
    settings = ServeSettings(model_path=kind_folder, model_source=kind_folder, model_version="1",
                             key_hashes=[] if "auth" in off else [hash_key(KEY)],
                             rate_limit="off" if "rate_limit" in off else "10000000/second",
                             prediction_log=None if "logs" in off else log_dir, access_log="logs" not in off)
    devnull = open(os.devnull, "w")  # noqa: SIM115 (the access log's lines, for the process's life)
    stderr, sys.stderr = sys.stderr, devnull
    app = create_app(settings)
    sys.stderr = stderr
    if "freeze" not in off:
        freeze_start_up_heap()
    collections: list[tuple[int, float]] = []
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            collections.append((info["generation"], (time.thread_time() - started[0]) * 1e3))

    gc.callbacks.append(on_gc)
    turns: list[tuple[float, float]] = []  # (loop CPU ms since the last wake-up, wall overshoot ms)
    in_app: list[float] = []
    inner = front._dispatch

    async def timed(*a: Any) -> None:
        t0 = time.perf_counter()
        await inner(*a)
        in_app.append((time.perf_counter() - t0) * 1e3)

    front._dispatch = timed  # type: ignore[assignment]

    async def monitor() -> None:
        while True:
            c0, t0 = time.thread_time(), time.perf_counter()
            await asyncio.sleep(0.001)
            turns.append(((time.thread_time() - c0) * 1e3, (time.perf_counter() - t0) * 1e3 - 1.0))

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                                           log_level="warning", access_log=False))

    def thread_cpu() -> dict[str, float]:
        import threading

        ticks = os.sysconf("SC_CLK_TCK")
        out_: dict[str, float] = {}
        for t in threading.enumerate():
            try:
                fields = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out_[t.name] = (int(fields[11]) + int(fields[12])) / ticks
        return out_

    reset: dict[str, Any] = {}
    cpu_end: list[Any] = []

    async def main() -> None:
        task = asyncio.ensure_future(monitor())
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        # the parent asks for a reset (GET /health) before its timed load: count from there
        while not Path(out + ".go").exists():
            await asyncio.sleep(0.05)
        for kept in (collections, turns, in_app):
            kept.clear()
        reset["cpu"], reset["t"] = thread_cpu(), time.perf_counter()
        while not Path(out + ".stop").exists():  # a file, not SIGTERM: uvicorn re-raises a signal it caught
            await asyncio.sleep(0.05)
        cpu_end[:] = [thread_cpu(), time.perf_counter() - reset["t"]]
        server.should_exit = True
        await serving
        task.cancel()

    uvloop.run(main())
    seconds = cpu_end[1]
    cpu = {k: (v - reset["cpu"].get(k, 0.0)) / seconds for k, v in cpu_end[0].items()}

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0

    gens = {g: [ms for gg, ms in collections if gg == g] for g in (0, 1, 2)}
    summary = {"off": off, "tracked_objects": len(gc.get_objects()), "seconds": seconds,
               "gc": {f"gen{g}": {"n": len(v), "median_cpu_ms": statistics.median(v) if v else 0.0,
                                  "max_cpu_ms": max(v, default=0.0), "total_cpu_ms": sum(v)}
                      for g, v in gens.items()},
               "loop_turn_cpu_ms": {"p50": pct([t[0] for t in turns], 0.5), "p99": pct([t[0] for t in turns], 0.99),
                                    "max": max((t[0] for t in turns), default=0.0),
                                    "over_10ms": sum(1 for t in turns if t[0] > 10)},
               "loop_overshoot_ms": {"p50": pct([t[1] for t in turns], 0.5), "p99": pct([t[1] for t in turns], 0.99),
                                     "max": max((t[1] for t in turns), default=0.0)},
               "in_app_ms": {"n": len(in_app), "p50": pct(in_app, 0.5), "p99": pct(in_app, 0.99),
                             "max": max(in_app, default=0.0)},
               "thread_cpu_share": cpu}
    Path(out).write_text(json.dumps(summary))


def diagnose(folder: Path, kind: str, tmp: Path, args: argparse.Namespace, script: Path, body: str) -> list[Any]:
    """Each feature turned off in turn (and all on), the probed server under ``/predict`` at the
    highest concurrency; prints where the event loop's time goes and wrk's figures."""
    from mlgate.serve.process import free_port

    results = []
    c = max(args.concurrency)
    chosen = args.diagnose or ["all-on", *PROBE_FEATURES]
    for off in ([] if f == "all-on" else [f] for f in chosen):
        port, out = free_port(), tmp / f"probe-{kind}-{'-'.join(off) or 'none'}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--probe-child", str(folder), str(port), str(out),
               *off]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with (tmp / "probe.log").open("ab") as fh:  # the child's errors, shown when it fails
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ok(f"{url}/ping", proc=proc)
            key = None if "auth" in off else KEY
            _warm(url, "/predict", body, key)
            Path(f"{out}.go").touch()
            time.sleep(0.2)
            load = os.getloadavg()[0]
            r = run_wrk(url, body, key, c, args.duration, script, "/predict")
            Path(f"{out}.stop").touch()
            proc.wait(30)
        finally:
            stop(proc)
        if not out.exists():
            raise RuntimeError(f"the probed server wrote no summary: {(tmp / 'probe.log').read_text()[-3000:]}")
        summary = json.loads(out.read_text())
        summary.update(wrk=r, load=load)
        results.append(summary)
        g2, lt, ia = summary["gc"]["gen2"], summary["loop_turn_cpu_ms"], summary["in_app_ms"]
        writers = {k: round(v * 100, 1) for k, v in summary["thread_cpu_share"].items() if "log" in k}
        print(f"  {kind} off={','.join(off) or '-':10s} c={c} {r['rps']:6.0f} req/s p50 {r['p50_ms']:6.2f} "
              f"p99 {r['p99_ms']:7.2f} max {r['max_ms']:7.1f} ms load {load:.1f} | gen2 {g2['n']} x "
              f"{g2['median_cpu_ms']:.1f} ms CPU (max {g2['max_cpu_ms']:.1f}), gen0+1 "
              f"{summary['gc']['gen0']['total_cpu_ms'] + summary['gc']['gen1']['total_cpu_ms']:.0f} ms | loop turn CPU "
              f"p99 {lt['p99']:.2f} max {lt['max']:.1f} ms, >10 ms: {lt['over_10ms']} | in-app p50 {ia['p50']:.2f} "
              f"p99 {ia['p99']:.2f} ms | writer threads CPU % {writers} | tracked {summary['tracked_objects']}",
              flush=True)
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
        stop(self.proc)


def count_lines(folder: Path) -> int:
    return sum(sum(1 for _ in f.open("rb")) for f in folder.glob("predictions.*.jsonl*")) if folder.exists() else 0


def in_process(folder: Path, kind: str) -> tuple[dict[str, float], dict[str, Any]]:
    """Every in-process measurement of one model, printed as it goes: floor, parts, whole request."""
    floor = in_process_floor(folder)
    parts: dict[str, Any] = breakdown(folder)
    print(f"{kind}: one request's parts (median us): "
          + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()), flush=True)
    for label, logs in (("asgi_in_process", True), ("asgi_in_process_no_logs", False)):
        whole = asgi_request_cost(folder, logs=logs)
        print(f"{kind}: one whole /predict request in-process{'' if logs else ', logs off'} (median us): "
              f"bare {whole['bare_us']:.0f}, mlgate {whole['mlgate_us']:.0f}, difference "
              f"{whole['mlgate_minus_bare_us']:.0f} ({whole['ratio']:.2f}x); event-loop thread CPU: bare "
              f"{whole['bare_cpu_us']:.0f}, mlgate {whole['mlgate_cpu_us']:.0f}, difference "
              f"{whole['mlgate_minus_bare_cpu_us']:.0f}", flush=True)
        parts[label] = whole
    parity = model_call_parity(folder)
    print(f"{kind}: the model call alone (median us): bare {parity['bare_predict_us']:.0f}, mlgate "
          f"{parity['mlgate_predict_us']:.0f}, paired difference {parity['mlgate_minus_bare_us']:.0f}; "
          f"threads {parity['threads']}; inputs bare {parity['bare_input_dtypes']}, mlgate "
          f"{parity['mlgate_input_dtypes']}", flush=True)
    parts["model_call_parity"] = parity
    return floor, parts


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--probe-child":  # the server process of --diagnose
        probe_server(sys.argv[2], int(sys.argv[3]), sys.argv[5:], sys.argv[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="seconds per point (20; 5 with --quick)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--models", nargs="+", default=None, choices=["lr", "gbm", "lr-wide", "gbm-wide"],
                        help="lr, gbm: churn Pipelines with preprocessing; lr-wide, gbm-wide: issue 25's "
                             "50,000 x 20 numeric models (the default with --quick; lr gbm otherwise)")
    parser.add_argument("--mlflow-one-thread", action="store_true",
                        help="also run MLflow with OMP_NUM_THREADS=1 (mlgate's thread setting)")
    parser.add_argument("--in-process-only", action="store_true", help="only the in-process timings")
    parser.add_argument("--no-in-process", action="store_true", help="only the servers under load")
    parser.add_argument("--sides", nargs="+", default=["mlflow", "bare", "mlgate"],
                        choices=["mlflow", "bare", "mlgate"])
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of floor-and-mlgate points (the tail figures' spread)")
    parser.add_argument("--c1-points", type=int, default=None,
                        help="pairs of 1 s points at concurrency 1, spread over the rounds (24 with --quick; "
                             "0: one point of --duration per round)")
    parser.add_argument("--quick", action="store_true",
                        help="the tail check alone: floor and mlgate, both models, c=1 and 32, 5 s points, "
                             "3 rounds, no in-process timings (about 3 minutes)")
    parser.add_argument("--diagnose", nargs="*", choices=["all-on", *PROBE_FEATURES], default=None,
                        help="where the tail comes from: mlgate instrumented (GC pauses, event-loop turns, "
                             "writer threads) at the highest concurrency, with every default on (all-on) and "
                             "with each named feature off; no names: all-on and each feature off in turn")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve.json")
    args = parser.parse_args()
    if args.models is None:
        args.models = ["lr-wide", "gbm-wide"] if args.quick else ["lr", "gbm"]
    if args.quick:
        args.concurrency, args.sides, args.no_in_process = [1, 32], ["bare", "mlgate"], True
    if args.c1_points is None:
        args.c1_points = 24 if args.quick else 0
    if args.duration is None:
        args.duration = 5.0 if args.quick else 20.0
    if shutil.which("wrk") is None and not args.in_process_only:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from mlgate.serve.process import ServerProcess, free_port

    print(machine(), flush=True)
    report: dict[str, Any] = {"machine": machine(), "duration_s": args.duration, "rounds": args.rounds, "models": {}}
    tails: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)
        config = tmp / "mlgate.yaml"
        config.write_text('project: bench\ndata: {train: unused.csv}\nserve: {rate_limit: "10000000/second"}\n')
        for kind in args.models:
            folder = make_model(tmp / f"model-{kind}", kind)
            if args.diagnose is not None:
                from mlgate.serve.model import ServedModel

                example = ServedModel.load(folder, version="1").example
                report["models"][kind] = {"diagnose": diagnose(
                    folder, kind, tmp, args, script, json.dumps({"features": list(example.values())}))}
                continue
            floor, parts = in_process(folder, kind) if not args.no_in_process else ({}, {})
            if args.in_process_only:
                report["models"][kind] = {"floor": floor, "breakdown_us": parts}
                continue
            from mlgate.serve.model import ServedModel

            row = ServedModel.load(folder, version="1").example
            body = json.dumps({"dataframe_split": {"columns": list(row), "data": [list(row.values())]}})
            if floor:
                print(f"{kind}: in-process floor {floor['sklearn_dataframe_ms']:.3f} ms (sklearn, DataFrame), "
                      f"{floor['mlgate_columns_ms']:.3f} ms (mlgate column path)", flush=True)
            predict_body = json.dumps({"features": list(row.values())})
            entry: dict[str, Any] = {"floor": floor, "breakdown_us": parts}
            if "mlflow" in args.sides:
                port = free_port()
                entry["mlflow"] = bench_server("mlflow", MlflowServer(folder, port, tmp / f"mlflow-{kind}.log"),
                                               f"http://127.0.0.1:{port}", None, args, script,
                                               {"invocations": ("/invocations", body)})["invocations"]
            if args.mlflow_one_thread:
                port1 = free_port()
                entry["mlflow_omp1"] = bench_server(
                    "mlflow1", MlflowServer(folder, port1, tmp / f"mlflow1-{kind}.log", {"OMP_NUM_THREADS": "1"}),
                    f"http://127.0.0.1:{port1}", None, args, script,
                    {"invocations": ("/invocations", body)})["invocations"]
            if "bare" in args.sides and "mlgate" in args.sides:
                tail = tail_rounds(folder, kind, tmp, args, script, config, predict_body)
                entry["tail"] = tail
                tails[kind] = tail["summary"]
            elif "bare" in args.sides:
                port2 = free_port()
                entry["bare"] = bench_server("bare", BareServer(folder, port2, tmp / f"bare-{kind}.log"),
                                             f"http://127.0.0.1:{port2}", None, args, script,
                                             {"predict": ("/predict", predict_body)})["predict"]
            gate_loads = {"invocations": ("/invocations", body)} if "mlflow" in args.sides else {}
            if "bare" not in args.sides:
                gate_loads["predict"] = ("/predict", predict_body)
            if "mlgate" in args.sides and gate_loads:
                gate_port = free_port()
                gate = bench_server(
                    "mlgate",
                    ServerProcess(str(folder), config_path=config, port=gate_port, api_keys=[KEY],
                                  extra_args=["--prediction-log", str(tmp / f"log-{kind}-x"),
                                              "--model-version", "1"], timeout=120),
                    f"http://127.0.0.1:{gate_port}", KEY, args, script, gate_loads)
                if "predict" in gate:
                    entry["mlgate_predict"] = gate["predict"]
                if "invocations" in gate:
                    entry["mlgate"] = gate["invocations"]
                    entry["ratios"] = ratios(gate["invocations"], entry["mlflow"], "mlgate / mlflow, /invocations")
                entry["log_lines_dropped"] = gate.pop("log_lines_dropped", {})
            report["models"][kind] = entry
    for kind, summary in tails.items():
        print_tail_table(kind, summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
