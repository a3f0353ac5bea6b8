"""The CI's canary job, `mlgate deploy --strategy canary --wait`, through the console script against
a real `mlgate serve --env production`: no decision by the deadline is a rollback and exit 1, and
every analysis is in the job log. (Promotion and a rollback on a broken version under load are in
test_ci_gitlab_runner.py and test_deploy.py.)"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

import _support.deploy as S
from mlgate.serve.process import ServerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def production(tmp_path: Path, mlflow_template: Path) -> Iterator[tuple[Path, ServerProcess]]:
    port = free_port()
    # 1,000 requests a lane: the few requests sent here never decide
    cfg = S.project(tmp_path / "project", template=mlflow_template, port=port,
                    canary={"steps": [50, 100], "interval_s": 1, "max_wait_s": 4,
                            "error_rate": {"material": 0.01, "min_requests": 1000},
                            "latency": {"material": 0.2, "min_requests": 1000},
                            "predictions": {"material": 0.1, "min_requests": 1000}})
    assert S.register(cfg, S.model_folder(tmp_path / "m1", "good", 0), "production") == "1"
    assert S.register(cfg, S.model_folder(tmp_path / "m2", "good", 1)) == "2"
    with ServerProcess("", config_path=cfg, port=port, admin_key=S.ADMIN_KEY, timeout=180,
                       extra_args=["--env", "production"]) as server:
        yield cfg, server


def test_no_decision_by_the_deadline_rolls_back_and_exits_1(production: tuple[Path, ServerProcess],
                                                            mlgate_bin: list[str]) -> None:
    cfg, server = production
    for body in S.request_bodies(10):
        assert httpx.post(f"{server.url}/predict", json=body, timeout=30).status_code == 200
    out = subprocess.run([*mlgate_bin, "deploy", "--env", "production", "--strategy", "canary", "--version", "2",
                          "--wait", "--output", str(cfg.parent / "reports")], cwd=cfg.parent,
                         env={**os.environ, "MLGATE_ADMIN_KEY": S.ADMIN_KEY}, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "an analysis every 1 s, for at most 4 s" in out.stderr
    assert re.search(r"analysis 1 at 50%: baseline \d+ requests \(0 errors\), canary \d+ requests", out.stderr)
    assert re.search(r"  error_rate \(fisher\): undecided: ", out.stderr), out.stderr
    assert "no decision within 4 s: rolled back; production keeps version 1" in out.stderr, out.stderr
    state = httpx.get(f"{server.url}/admin/state", headers={"X-Admin-Key": S.ADMIN_KEY}, timeout=30).json()
    assert state["slots"]["stable"] == "1" and "canary" not in state["slots"], state
    report = yaml.safe_load((cfg.parent / "reports" / "report.json").read_text())
    assert [c["name"] for c in report["checks"] if not c["passed"]] == ["canary_timeout"]
