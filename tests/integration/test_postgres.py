"""The same commands on an MLflow tracking server backed by PostgreSQL, and Optuna on PostgreSQL.

A throwaway PostgreSQL 15 cluster and an ``mlflow server`` on it (tests/_pg.py) are started
once for the session. Without PostgreSQL installed the tests are skipped, saying so; with
``CI=true`` a missing PostgreSQL is a failure, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from _pg import MlflowServer, PostgresUnavailable, Stack, free_port, pg_bindir

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """PostgreSQL 15 in a temp folder on a free port, and an mlflow server on it; both stopped at the end."""
    try:
        import psycopg  # noqa: F401  (the driver SQLAlchemy 2.1 uses for postgresql://)

        pg_bindir()
    except (ImportError, PostgresUnavailable) as exc:
        reason = f"PostgreSQL is not available here ({exc}); install postgresql-15 and mlgate[postgres]"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    started = Stack(tmp_path_factory.mktemp("pg-stack"))
    yield started
    started.close()


def _stock_client(stack: Stack) -> Any:
    """A stock MlflowClient over HTTP, as a job on another machine has it; both URIs named, since an
    earlier test in this process may have set MLflow's process-wide registry URI."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=stack.tracking_uri, registry_uri=stack.tracking_uri)


def _env(stack: Stack, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CI_", "GITHUB_"))}
    return {**env, "MLFLOW_TRACKING_URI": stack.tracking_uri, **extra}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _small_pipeline(project: Path, name: str) -> None:
    """The churn example with one quick candidate; its config names the SQLite store, which the server overrides."""
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg.update(project=name, models=[{"type": "logistic-regression"}])
    cfg["tune"]["enabled"] = False
    # the families whose verdict does not hang on the machine's load (inference latency does)
    cfg["gates"]["test"]["checks"] = ["performance", "fairness", "edge_cases", "reproducibility"]
    cfg["registry"] = {**cfg.get("registry", {}), "model_name": name, "tags": {"team": "retention"}}
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg))


def _no_local_store(project: Path) -> None:
    state = project / ".mlgate"
    assert not (state / "mlflow.db").exists() and not (state / "mlartifacts").exists()
    assert not (project / "mlruns").exists() and not (project / "mlartifacts").exists()


def test_run_registers_on_the_server_and_serve_serves_it(stack: Stack, churn_project: Path,
                                                         mlgate_bin: list[str]) -> None:
    _small_pipeline(churn_project, "churn-server")
    env = _env(stack)
    done = _run([*mlgate_bin, "run"], churn_project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    # read back with a stock client over HTTP
    client = _stock_client(stack)
    version = client.get_model_version_by_alias("churn-server", "staging")
    assert version.source.startswith("mlflow-artifacts:/")
    assert len(version.tags["mlgate.model_sha256"]) == 64 and version.tags["team"] == "retention"
    assert json.loads(version.tags["mlgate.gates"]) == {s: True for s in ("compare", "evaluate", "test", "train",
                                                                           "validate")}
    assert "test_roc_auc" in client.get_run(version.run_id).data.metrics
    _no_local_store(churn_project)
    status = _run([*mlgate_bin, "status"], churn_project, env)
    assert status.returncode == 0 and "register" in status.stdout, status.stdout + status.stderr

    port = free_port()
    server = subprocess.Popen([*mlgate_bin, "serve", "--model", "models:/churn-server@staging", "--port", str(port)],
                              cwd=churn_project, env={**env, "MLGATE_API_KEYS": "k-test"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, server)
        row = _first_row(churn_project / "data" / "test.csv")
        answer = httpx.post(f"{url}/predict", json={"features": row}, headers={"X-API-Key": "k-test"}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == version.version
        assert 0 <= answer.json()["probability"] <= 1 if isinstance(answer.json()["probability"], float) else True
    finally:
        server.terminate()
        server.wait(timeout=30)
    _no_local_store(churn_project)


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlgate serve exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"mlgate serve at {url} was not ready within {timeout} s")


def _first_row(path: Path) -> dict[str, Any]:
    import pandas as pd

    frame = pd.read_csv(path).drop(columns=["target", "customer_id"])
    return json.loads(frame.head(1).to_json(orient="records"))[0]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from _support.lifecycle import churn, fit, save

    frame = churn(400)
    return save(fit(frame), tmp_path_factory.mktemp("pg-model") / "model", frame)


def test_four_concurrent_registers_give_four_versions(stack: Stack, model_folder: Path, tmp_path: Path,
                                                      mlgate_bin: list[str]) -> None:
    jobs = 4
    procs = [subprocess.Popen([*mlgate_bin, "register", "--model", str(model_folder), "--name", "churn-four",
                               "--output", f"out{i}"], cwd=tmp_path, env=_env(stack, CI_JOB_ID=f"job-{i}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(jobs)]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, out + err
    mine = sorted(json.loads((tmp_path / f"out{i}" / "registered.json").read_text())["version"] for i in range(jobs))
    assert sorted(map(int, mine)) == list(range(1, jobs + 1))
    versions = _stock_client(stack).search_model_versions("name = 'churn-four'")
    assert sorted(v.tags["mlgate.ci_job_id"] for v in versions) == [f"job-{i}" for i in range(jobs)]
    assert all(len(v.tags.get("mlgate.model_sha256", "")) == 64 for v in versions)
    assert _stock_client(stack).get_model_version_by_alias("churn-four", "staging").version in mine
    assert not (tmp_path / ".mlgate").exists()  # no project-local store beside a server


def _tune_project(project: Path) -> None:
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg["project"] = "churn-tune"
    cfg["tune"] = {"enabled": True, "model": "logistic-regression", "cv_folds": 2}
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg))


def _finished_trials(storage: str, study: str) -> list[tuple[int, str]]:
    import optuna

    loaded = optuna.load_study(study_name=study, storage=storage)
    return sorted((t.number, t.state.name) for t in loaded.trials)


def test_two_local_workers_share_one_study_on_postgres(stack: Stack, churn_project: Path,
                                                        mlgate_bin: list[str]) -> None:
    _tune_project(churn_project)
    storage = stack.optuna_url("optuna_workers")
    done = _run([*mlgate_bin, "tune", "--workers", "2", "--n-trials", "6", "--storage", storage,
                 "--study-name", "two-workers", "--output", "out"], churn_project, _env(stack))
    assert done.returncode == 0, done.stdout + done.stderr
    trials = _finished_trials(storage, "two-workers")
    assert [n for n, _ in trials] == list(range(6))  # six trials, each number once
    assert {state for _, state in trials} <= {"COMPLETE", "PRUNED"}
    report = json.loads((churn_project / "out" / "report.json").read_text())
    assert report["metrics"]["trials_total"] == 6 and report["metrics"]["trials_this_call"] == 6
    workers = next(c for c in report["checks"] if c["name"] == "workers")
    assert workers["passed"] and workers["details"]["workers"] == [{"index": 1, "exit": 0, "trials": 3}]


@pytest.mark.slow
def test_two_tune_jobs_on_one_study_resume_it(stack: Stack, churn_project: Path, mlgate_bin: list[str]) -> None:
    """Two CI jobs of three trials each (separate processes, started at once), then a third resumes."""
    _tune_project(churn_project)
    storage = stack.optuna_url("optuna_jobs")
    cmd = [*mlgate_bin, "tune", "--n-trials", "3", "--storage", storage, "--study-name", "two-jobs"]
    procs = [subprocess.Popen([*cmd, "--output", f"job{i}"], cwd=churn_project, env=_env(stack),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out
    assert [n for n, _ in _finished_trials(storage, "two-jobs")] == list(range(6))
    resumed = _run([*cmd, "--output", "job2"], churn_project, _env(stack))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert [n for n, _ in _finished_trials(storage, "two-jobs")] == list(range(9))


def _versions_without_tags(stack: Stack) -> list[tuple[str, int]]:
    """Versions in the server's database lacking mlgate's hash tag: half-made registrations."""
    import psycopg

    with psycopg.connect(stack.pg.url("mlflow", driver="postgresql")) as con:
        rows = con.execute("SELECT v.name, v.version FROM model_versions v WHERE NOT EXISTS (SELECT 1 FROM "
                           "model_version_tags t WHERE t.name = v.name AND t.version = v.version AND "
                           "t.key = 'mlgate.model_sha256')").fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def _wait_for_row(stack: Stack, query: str, args: tuple[Any, ...], proc: subprocess.Popen[str],
                  timeout: float = 120) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.pg.url("mlflow", driver="postgresql"), autocommit=True) as con:
        while time.monotonic() < deadline and proc.poll() is None:
            if con.execute(query, args).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError(f"register finished (exit {proc.returncode}) before the server could be stopped")


def test_stopping_the_server_mid_register_leaves_no_bare_version(stack: Stack, model_folder: Path, tmp_path: Path,
                                                                  mlgate_bin: list[str]) -> None:
    # a second server on the same database, so that stopping it leaves the session's server alone
    doomed = MlflowServer(stack.server.backend, stack.server.artifacts, workers=1)
    try:
        env = {**_env(stack, MLGATE_RETRY_SECONDS="3"), "MLFLOW_TRACKING_URI": doomed.url}
        proc = subprocess.Popen([*mlgate_bin, "register", "--model", str(model_folder), "--name", "churn-stopped"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the registered model exists: the run, its artifacts, the version and the alias are still to come
        _wait_for_row(stack, "SELECT 1 FROM registered_models WHERE name = %s", ("churn-stopped",), proc)
        doomed.stop()
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=120)
    finally:
        doomed.stop()
    assert proc.returncode == 2, out + err
    assert f"the MLflow tracking server at {doomed.url}" in err and "did not answer" in err, err
    assert "retrying for" in err  # it said what it retried while waiting
    assert "Traceback" not in err
    assert time.monotonic() - t0 < 60
    assert _versions_without_tags(stack) == []
