"""Parallel CI jobs registering at once each get their own version; none is lost."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from _support.lifecycle import churn, fit, project, save

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _own_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI, which would point later tests at an old store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


JOBS = 3


@pytest.mark.parametrize("fresh", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["existing-store", "fresh-store"])
def test_parallel_registrations_on_one_sqlite_store(tmp_path: Path, mlgate_bin: list[str], fresh: bool) -> None:
    from mlflow.tracking import MlflowClient

    from mlgate.registry import open_store
    from mlgate.tracking import tracking_uri

    frame = churn(600)
    cfg = project(tmp_path, frame)
    model = save(fit(frame), tmp_path / "model", frame)
    # With an existing store (CI with a shared store) the jobs race on the registered model and
    # its version numbers; on a fresh one also on creating the tables (serialized by a file lock).
    if not fresh:
        open_store(cfg)
    procs = [subprocess.Popen([*mlgate_bin, "register", "--model", str(model), "--output", f"out{i}"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"CI_JOB_ID": f"job-{i}", "PATH": "/usr/bin:/bin"})
             for i in range(JOBS)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, f"{out}\n{err}"
    registered = [json.loads((tmp_path / f"out{i}" / "registered.json").read_text()) for i in range(JOBS)]
    assert sorted(int(r["version"]) for r in registered) == list(range(1, JOBS + 1))
    client = MlflowClient(tracking_uri(cfg), registry_uri=tracking_uri(cfg))
    versions = client.search_model_versions("name='churn'")
    assert sorted(int(v.version) for v in versions) == list(range(1, JOBS + 1))
    # each version kept its own job's tag
    assert sorted(v.tags["mlgate.ci_job_id"] for v in versions) == [f"job-{i}" for i in range(JOBS)]
