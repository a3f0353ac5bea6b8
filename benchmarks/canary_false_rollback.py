"""Benchmark: canary analysis's false-rollback rate on two identical versions, and its power on a
broken one, under the integration tests' load (4 client threads, sticky client ids).

A real `mlgate serve --env production` over a SQLite registry serves version 1; version 2
is the same model folder registered again (identical), version 3 always answers the
minority class. For each canary, WINDOWS analysis windows: the canary weight is set again
(which starts a new observation window), the load sends requests until both the canary and
the baseline lane have at least N requests, and the window's rows are analyzed with the
default thresholds and with the integration tests' (smaller minimum sample sizes).

    .venv/bin/python benchmarks/canary_false_rollback.py [--windows 100] [--percent 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from serve import machine  # noqa: E402

import _support.deploy as S  # noqa: E402
from _support.load import Load  # noqa: E402
from mlgate.serve.process import ServerProcess, free_port  # noqa: E402

TEST_CANARY = {"error_rate": {"material": 0.01, "min_requests": 60},
               "latency": {"material": 0.2, "min_requests": 60}, "predictions": {"material": 0.1, "min_requests": 60}}


def windows(admin: Any, load: Load, n: int, count: int, percent: float) -> list[list[list[Any]]]:
    out = []
    for _ in range(count):
        admin.route(canary=percent)  # a new observation window
        since = admin.state()["observe_since"]
        while True:
            time.sleep(0.3)
            rows = admin.observations(since)["rows"]
            sides = Counter(r[1] for r in rows)
            if min(sides["canary"], sides["baseline"]) >= n:
                break
        out.append(rows)
    return out


def main() -> int:
    from mlgate.config import CanaryConfig, load_config
    from mlgate.deploy.actions import deploy
    from mlgate.deploy.canary import analyze
    from mlgate.deploy.client import AdminClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--percent", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "canary_false_rollback.json")
    args = parser.parse_args()
    print(machine(), flush=True)
    configs = {"default": CanaryConfig(), "tests": CanaryConfig.model_validate(TEST_CANARY)}
    results: dict[str, Any] = {"machine": machine(), "windows": args.windows, "percent": args.percent}
    os.environ["MLGATE_ADMIN_KEY"] = S.ADMIN_KEY
    with tempfile.TemporaryDirectory(prefix="mlgate-canary-bench-") as name:
        tmp = Path(name)
        cfg = S.project(tmp / "project")
        good = S.model_folder(tmp / "m1", "good", 0)
        S.register(cfg, good, "production")
        S.register(cfg, good)  # version 2: the identical model
        S.register(cfg, S.model_folder(tmp / "m3", "broken", 0))
        port = free_port()
        S.set_port(cfg, port)
        need = max(c.error_rate.min_requests for c in configs.values())
        with ServerProcess("", config_path=cfg, port=port, admin_key=S.ADMIN_KEY, timeout=180,
                           extra_args=["--env", "production", "--no-prediction-log"]) as server, \
                AdminClient(server.url, S.ADMIN_KEY) as admin:
            for version, label in (("2", "identical"), ("3", "broken")):
                report = deploy(load_config(cfg), "production", strategy="canary", version=version,
                                percent=args.percent)
                assert report.passed, [c.message for c in report.failures]
                count = args.windows if label == "identical" else max(10, args.windows // 5)
                t0 = time.perf_counter()
                with Load(server.url, S.request_bodies(), threads=4) as load:
                    collected = windows(admin, load, need, count, args.percent)
                elapsed = time.perf_counter() - t0
                for cname, config in configs.items():
                    verdicts = [analyze(rows, config) for rows in collected]
                    tally = Counter(v.verdict for v in verdicts)
                    bad = Counter(b for v in verdicts for b in v.bad)
                    results[f"{label}/{cname}"] = {"verdicts": dict(tally), "crossed": dict(bad),
                                                   "rollback_rate": tally["rollback"] / len(verdicts)}
                    print(f"{label:9s} canary, {cname:7s} thresholds: {dict(tally)}; bounds crossed {dict(bad)}; "
                          f"rollback rate {tally['rollback'] / len(verdicts):.3f} over {len(verdicts)} windows",
                          flush=True)
                results[f"{label}/requests"] = sum(len(r) for r in collected)
                results[f"{label}/seconds"] = round(elapsed, 1)
                admin.discard("canary")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
