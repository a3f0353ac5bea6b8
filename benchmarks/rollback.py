"""Benchmark: rollback after a production switch, from the command's start to the first answer
from the previous version.

mlgate: `mlgate serve --env production` over a SQLite MLflow registry, blue-green deploy of
version 2, then `mlgate rollback --env production` as a subprocess while a client thread
sends requests back to back; the time is from Popen to the first answer naming version 1.
Also the time until the command exits. `mlgate rollback` writes the registry first (the
deploy lock, the record, the alias), then tells the server to converge, then writes the
history.

The alternative a user would otherwise pick: stop `mlflow models serve` of version 2 and
start it on version 1's model folder (already on local disk, so no download is counted),
until /invocations answers.

    .venv/bin/python benchmarks/rollback.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from serve import MlflowServer, machine  # noqa: E402

import _support.deploy as S  # noqa: E402
from mlgate.serve.process import ServerProcess, free_port, mlgate_executable  # noqa: E402


class FirstAnswer:
    """Sends requests back to back; records when the first answer from ``version`` arrived."""

    def __init__(self, url: str, body: dict[str, Any], version: str | None, path: str = "/predict") -> None:
        self.url, self.body, self.version, self.path = url, body, version, path
        self.seen: float | None = None
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set() and self.seen is None:
                try:
                    r = client.post(f"{self.url}{self.path}", json=self.body)
                except httpx.HTTPError:
                    self.errors += 1
                    time.sleep(0.01)
                    continue
                if r.status_code == 200 and (self.version is None or r.json().get("model_version") == self.version):
                    self.seen = time.perf_counter()

    def start(self) -> FirstAnswer:
        self._thread.start()
        return self

    def wait(self, timeout: float = 120.0) -> float | None:
        self._thread.join(timeout)
        self._stop.set()
        return self.seen


def mlgate_rollbacks(cfg: Path, repeats: int) -> list[dict[str, float]]:
    from mlgate.config import load_config
    from mlgate.deploy.actions import deploy
    from mlgate.deploy.client import AdminClient
    from mlgate.deploy.state import Registry

    os.environ["MLGATE_ADMIN_KEY"] = S.ADMIN_KEY
    port = free_port()
    S.set_port(cfg, port)
    runs = []
    with ServerProcess("", config_path=cfg, port=port, admin_key=S.ADMIN_KEY, timeout=180,
                       extra_args=["--env", "production", "--no-prediction-log"]) as server:
        body = S.request_bodies(1)[0]
        for _ in range(repeats):
            report = deploy(load_config(cfg), "production", strategy="blue-green", version="2")
            assert report.passed, [c.message for c in report.failures]
            watcher = FirstAnswer(server.url, body, "1")
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.Popen([mlgate_executable(), "rollback", "--env", "production", "--config", str(cfg)],
                                    env=S.admin_env(), cwd=cfg.parent, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            watcher.start()
            seen = watcher.wait()
            _, err = proc.communicate(timeout=180)
            done = time.perf_counter()
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert proc.returncode == 0 and seen is not None, err.decode()
            # the registry writes and the server's part alone, from a process that is already running:
            # the aliases first, then /admin/reload (as `mlgate rollback` does after its start-up)
            assert deploy(load_config(cfg), "production", strategy="blue-green", version="2").passed
            direct = FirstAnswer(server.url, body, "1")
            registry = Registry(load_config(cfg))
            t1 = time.perf_counter()
            with AdminClient(server.url, S.ADMIN_KEY) as admin:
                direct.start()
                registry.point("production", "1", "2")
                admin.reload()
            seen_direct = direct.wait()
            assert seen_direct is not None
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            runs.append({"first_old_answer_s": seen - t0, "command_s": done - t0, "command_cpu_s": cpu,
                         "admin_call_first_old_answer_s": seen_direct - t1})
            print(f"  mlgate rollback: first answer from version 1 after {seen - t0:.3f} s, command done after "
                  f"{done - t0:.3f} s ({cpu:.2f} s CPU in all); admin call alone: first old answer after "
                  f"{seen_direct - t1:.3f} s", flush=True)
    return runs


def mlflow_restarts(folders: dict[str, Path], repeats: int, tmp: Path) -> list[dict[str, float]]:
    body = {"dataframe_records": [S.request_bodies(1)[0]["features"]]}
    runs = []
    for i in range(repeats):
        port = free_port()
        new = MlflowServer(folders["2"], port, tmp / f"mlflow-new-{i}.log")
        new.__enter__()
        up = FirstAnswer(f"http://127.0.0.1:{port}", body, None, "/invocations").start()
        assert up.wait(300) is not None, "mlflow models serve did not start"
        t0 = time.perf_counter()
        new.__exit__()
        old = MlflowServer(folders["1"], port, tmp / f"mlflow-old-{i}.log")
        old.__enter__()
        seen = FirstAnswer(f"http://127.0.0.1:{port}", body, None, "/invocations").start().wait(300)
        old.__exit__()
        assert seen is not None
        runs.append({"first_old_answer_s": seen - t0})
        print(f"  mlflow models serve restart: first answer from version 1 after {seen - t0:.3f} s", flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "rollback.json")
    args = parser.parse_args()
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="mlgate-rollback-bench-") as name:
        tmp = Path(name)
        cfg = S.project(tmp / "project")
        folders = {"1": S.model_folder(tmp / "m1", "good", 0), "2": S.model_folder(tmp / "m2", "good", 1)}
        S.register(cfg, folders["1"], "production")
        S.register(cfg, folders["2"])
        mlgate = mlgate_rollbacks(cfg, args.repeats)
        mlflow = mlflow_restarts(folders, max(1, args.repeats // 2 + 1), tmp)
    summary = {
        "machine": machine(),
        "mlgate_first_old_answer_s": {"median": statistics.median(r["first_old_answer_s"] for r in mlgate),
                                      "max": max(r["first_old_answer_s"] for r in mlgate)},
        "mlgate_command_s": {"median": statistics.median(r["command_s"] for r in mlgate)},
        "mlgate_admin_call_first_old_answer_s": {
            "median": statistics.median(r["admin_call_first_old_answer_s"] for r in mlgate)},
        "mlflow_restart_first_old_answer_s": {"median": statistics.median(r["first_old_answer_s"] for r in mlflow)},
        "runs": {"mlgate": mlgate, "mlflow": mlflow},
    }
    ratio = summary["mlflow_restart_first_old_answer_s"]["median"] / summary["mlgate_first_old_answer_s"]["median"]
    summary["ratio_mlflow_over_mlgate"] = ratio
    first = summary["mlgate_first_old_answer_s"]
    print(f"mlgate rollback to first old answer: median {first['median']:.3f} s, max {first['max']:.3f} s; "
          f"command {summary['mlgate_command_s']['median']:.2f} s; mlflow restart "
          f"{summary['mlflow_restart_first_old_answer_s']['median']:.2f} s; ratio {ratio:.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
