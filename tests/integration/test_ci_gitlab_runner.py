"""The generated .gitlab-ci.yml run by gitlab-ci-local 4.73.0, GitLab's jobs run locally.

gitlab-ci-local (the npm package; 4.74 and 4.75 crash on Node 20, so it is pinned) runs each
job with its shell executor (``--force-shell-executor``: there is no Docker here) in its own
folder ``.gitlab-ci-local/builds/<job>`` (``--shell-isolation``), with only the artifacts its
``needs`` declare, as a GitLab runner would. The jobs' ``pip install 'mlgate==X'`` line finds
the mlgate under test already installed (this interpreter's folder is first on PATH).

Three tests on one pipeline run (minutes on two cores):

1. the push pipeline on main, validate through register (``register-model --needs``: register
   and every job it needs, plus ci-file-check and security-scan), with the embedded store and
   no tracking server: every job passes and the register job's artifacts hold the registry
   with the new version and its model files;
2. a failed gate (``min_quality_score: 0.999``): data-validation exits 1 and its artifacts
   still hold junit.xml, report.json, summary.md and report.html;
3. the deploy jobs against two real ``mlgate serve --env`` servers on 127.0.0.1 sharing a
   registry with the jobs (``MLFLOW_TRACKING_URI``, as a CI variable): a good version's
   ``canary-deploy`` job promotes it by itself under live traffic; a broken version's
   ``canary-deploy`` job rolls it back and fails, and production keeps answering from the old one.

And one on its own pipeline: the churn example from ``mlgate init --example churn`` with its data
in a DVC local-folder remote (only the .dvc records committed): each data job pulls exactly its
stage's tables before mlgate runs, the pick's job pulls nothing, and locally a second ``mlgate
run`` with the data deleted and the remote moved away finds every stage cached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import _support.deploy as S
from _support.load import Load
from mlgate.serve.process import ServerProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
VERSION = "4.73.0"
REPORT_FILES = ("junit.xml", "report.json", "summary.md", "report.html")
OUTCOME = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(\S.*?)\s*$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _missing(tool: str) -> None:
    message = f"gitlab-ci-local test: {tool} is not installed"
    if os.environ.get("MLGATE_REQUIRE_GITLAB_CI_LOCAL"):  # .ci/run: never skipped there
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def gitlab_ci_local(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The gitlab-ci-local command: $GITLAB_CI_LOCAL, else npm-installed into a temporary folder."""
    for tool in ("node", "npm", "git", "rsync"):  # rsync: how it copies the checkout and artifacts
        if shutil.which(tool) is None:
            _missing(tool)
    given = os.environ.get("GITLAB_CI_LOCAL")
    if given:
        return [given]
    prefix = tmp_path_factory.mktemp("gitlab-ci-local")
    out = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                          f"gitlab-ci-local@{VERSION}"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        _missing(f"gitlab-ci-local@{VERSION} (npm install failed: {out.stderr.strip()[-300:]})")
    return [str(prefix / "node_modules" / ".bin" / "gitlab-ci-local")]


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args], cwd=project,
                   check=True, capture_output=True)


def _commit(project: Path, message: str) -> None:
    subprocess.run([sys.executable, "-m", "mlgate", "ci", "gitlab"], cwd=project, check=True, capture_output=True)
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", message)


def _project(root: Path, ports: dict[str, int]) -> Path:
    from mlgate.examples.churn import write_example

    write_example(root, n_rows=1500)
    cfg = yaml.safe_load((root / "mlgate.yaml").read_text())
    cfg["models"] = [{"type": "logistic-regression"},
                     {"type": "random-forest", "params": {"n_estimators": 20, "max_depth": 5}}]
    cfg["tune"] = {"enabled": True, "model": "random-forest", "n_trials": 2, "cv_folds": 2}
    cfg["gates"]["evaluate"]["bootstrap"] = 200
    cfg["gates"]["compare"]["bootstrap"] = 200
    cfg["gates"]["test"]["checks"] = ["performance", "consistency", "fairness", "edge_cases"]
    cfg["environments"] = {name: {"url": f"http://127.0.0.1:{port}"} for name, port in ports.items()}
    cfg["serve"] = {"rate_limit": "off", "prediction_log": None}
    cfg["security"] = {"scan": {"audit": False}}  # pip-audit asks an online vulnerability database
    # busy 2-core machines: latency is not what this test checks; a canary of two steps decided
    # on 40 requests a lane, analyzed every 2 s, within 3 minutes
    cfg["deploy"] = {"smoke_requests": 5, "max_p95_ms": 5000,
                     "canary": {"steps": [50, 100], "interval_s": 2, "max_wait_s": 180,
                                "error_rate": {"material": 0.01, "min_requests": 40},
                                "latency": {"material": 0.5, "min_requests": 40},
                                "predictions": {"material": 0.1, "min_requests": 40}}}
    (root / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (root / ".gitignore").write_text(".mlgate/\nmlgate-reports/\nmerged-report/\n.gitlab-ci-local/\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    _git(root, "remote", "add", "origin", "https://gitlab.example.com/team/churn.git")
    _commit(root, "churn example")
    return root


def _run(command: list[str], project: Path, *args: str, variables: dict[str, str] | None = None,
         timeout: float = 900) -> tuple[dict[str, str], str]:
    """Run gitlab-ci-local; return each job's outcome (PASS, FAIL, WARN) and the log."""
    flags = ["--force-shell-executor", "--shell-isolation", "--no-artifacts-to-source", "--concurrency", "2",
             "--no-color", *(f"--variable={k}={v}" for k, v in (variables or {}).items())]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([*command, *flags, *args], cwd=project, env=env, capture_output=True, text=True,
                         timeout=timeout)
    log = ANSI.sub("", out.stdout + out.stderr)
    outcomes = {m.group(2): m.group(1) for line in log.splitlines() if (m := OUTCOME.match(line))}
    return outcomes, log


def _artifacts(project: Path, job: str) -> Path:
    return project / ".gitlab-ci-local" / "artifacts" / job


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, gitlab_ci_local: list[str]) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("gitlab-runner")
    ports = {"staging": free_port(), "production": free_port()}
    project = _project(root / "churn", ports)
    # the push pipeline's jobs through register (started by hand, as its manual rule asks), with
    # every job they need; the image jobs need Docker, the deploy jobs servers (tested below)
    outcomes, log = _run(gitlab_ci_local, project, "--needs", "register-model", "ci-file-check", "security-scan")
    yield {"project": project, "ports": ports, "outcomes": outcomes, "log": log, "command": gitlab_ci_local,
           "root": root}


def test_pipeline_validate_through_register_with_the_embedded_store(pipeline: dict[str, Any]) -> None:
    from mlflow.tracking import MlflowClient

    outcomes, log, project = pipeline["outcomes"], pipeline["log"], pipeline["project"]
    expected = ["data-validation", "ci-file-check", "security-scan", "tune", "train-model: [logistic-regression]",
                "train-model: [random-forest]", "evaluate-all-models", "model-validation", "evaluate-model",
                "compare-models", "register-model"]
    assert {job: outcomes.get(job) for job in expected} == dict.fromkeys(expected, "PASS"), log[-6000:]
    register = _artifacts(project, "register-model")
    report = json.loads((register / "mlgate-reports" / "register" / "report.json").read_text())
    assert report["passed"] and report["metrics"]["version"] == "1", report
    # the registry travelled in the artifacts: the version's files are in the register job's own folder
    uri = f"sqlite:///{register / '.mlgate' / 'mlflow.db'}"
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("churn", "1")
    build = project / ".gitlab-ci-local" / "builds" / "register-model"
    source = str(version.source).removeprefix("file://")
    if not source.startswith("/"):  # MLflow 3 names a logged model; its files are at storage_location
        source = str(getattr(version, "storage_location", "") or "").removeprefix("file://")
    assert source.startswith(str(build)), source
    assert (register / Path(source).relative_to(build) / "MLmodel").is_file(), source


def test_a_failed_gate_keeps_its_reports(pipeline: dict[str, Any]) -> None:
    project = pipeline["project"]
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg["gates"]["validate"]["min_quality_score"] = 0.999
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    _commit(project, "stricter data gate")
    try:
        outcomes, log = _run(pipeline["command"], project, "data-validation")
        assert outcomes.get("data-validation") == "FAIL", log[-4000:]
        folder = _artifacts(project, "data-validation") / "mlgate-reports" / "validate"
        assert sorted(p.name for p in folder.iterdir() if p.name in REPORT_FILES) == sorted(REPORT_FILES), log
        report = json.loads((folder / "report.json").read_text())
        assert report["passed"] is False and "quality" in report["key_figure"], report
        assert 'failures="0"' not in (folder / "junit.xml").read_text()
    finally:
        _git(project, "revert", "--no-edit", "HEAD")


@pytest.fixture(scope="module")
def servers(pipeline: dict[str, Any], mlflow_template: Path) -> Iterator[dict[str, Any]]:
    """Staging and production at version 1 (registered here, as a first deploy would leave them),
    on the registry the deploy jobs get as MLFLOW_TRACKING_URI."""
    root, project = pipeline["root"], pipeline["project"]
    store = root / "registry" / "mlflow.db"
    store.parent.mkdir()
    shutil.copy(mlflow_template, store)
    uri = f"sqlite:///{store}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        config = project / "mlgate.yaml"
        assert S.register(config, S.model_folder(root / "m1", "good", 0), "production") == "1"
        from mlgate.config import load_config
        from mlgate.deploy.state import Registry

        Registry(load_config(config)).set_alias("staging", "1")
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old
    env = {"MLFLOW_TRACKING_URI": uri}
    started = [ServerProcess("", config_path=project / "mlgate.yaml", port=pipeline["ports"][name],
                             admin_key=S.ADMIN_KEY, env=env, timeout=180, extra_args=["--env", name])
               for name in ("staging", "production")]
    try:
        for server in started:
            server.start()
        yield {"uri": uri, "staging": started[0], "production": started[1], "root": root}
    finally:
        for server in started:
            server.stop()


def _register(uri: str, project: Path, folder: Path) -> str:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    out = subprocess.run([sys.executable, "-m", "mlgate", "register", "--model", str(folder), "--output",
                          str(folder.parent / f"{folder.name}-register")], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return str(json.loads((folder.parent / f"{folder.name}-register" / "report.json").read_text())
               ["metrics"]["version"])


def _serving(url: str) -> str:
    return str(httpx.get(f"{url}/model-info", timeout=10).json()["version"])


def _deploy_jobs(pipeline: dict[str, Any], servers: dict[str, Any]) -> tuple[dict[str, str], str, Load]:
    """deploy-staging, then canary-deploy under live traffic on production."""
    variables = {"MLFLOW_TRACKING_URI": servers["uri"], "MLGATE_ADMIN_KEY": S.ADMIN_KEY}
    outcomes, log = _run(pipeline["command"], pipeline["project"], "deploy-staging", variables=variables)
    assert outcomes.get("deploy-staging") == "PASS", log[-5000:]
    with Load(servers["production"].url, S.request_bodies(), threads=3, pause_s=0.01) as load:
        canary, canary_log = _run(pipeline["command"], pipeline["project"], "canary-deploy", variables=variables)
    return {**outcomes, **canary}, log + canary_log, load


def test_canary_job_promotes_a_good_version_and_rolls_back_a_broken_one(pipeline: dict[str, Any],
                                                                        servers: dict[str, Any]) -> None:
    root, project, production = servers["root"], pipeline["project"], servers["production"]
    assert _register(servers["uri"], project, S.model_folder(root / "m2", "good", 1)) == "2"
    outcomes, log, load = _deploy_jobs(pipeline, servers)
    assert outcomes.get("canary-deploy") == "PASS", log[-6000:]
    assert re.search(r"analysis \d+ at 50%: baseline \d+ requests", log), log[-4000:]
    assert "predictions (chi2)" in log and "promoted to production" in log, log[-4000:]
    assert _serving(production.url) == "2" and _serving(servers["staging"].url) == "2"
    assert all(a.status == 200 for a in load.answers), [a.error for a in load.answers if a.status != 200][:3]

    assert _register(servers["uri"], project, S.model_folder(root / "m3", "broken", 0)) == "3"
    outcomes, log, load = _deploy_jobs(pipeline, servers)
    assert outcomes.get("canary-deploy") == "FAIL", log[-6000:]
    assert "rollback: rolled back" in log, log[-4000:]
    assert _serving(production.url) == "2"  # production still answers from the version before
    late = [a for a in load.answers if a.sent > load.answers[-1].sent - 1.0]
    assert late and {a.version for a in late} == {"2"}, {a.version for a in late}


# ---- data in a DVC remote ---------------------------------------------------------------------

DVC = Path(sys.executable).with_name("dvc")
DATA_JOBS = {"data-validation": ["data/test.csv", "data/train.csv"], "train-model": ["data/train.csv"],
             "model-validation": ["data/test.csv", "data/train.csv"], "evaluate-model": ["data/test.csv"]}


def _sh(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{args}: {out.stdout[-2000:]}{out.stderr[-2000:]}"
    return out


def _dvc_project(root: Path) -> tuple[Path, Path]:
    """`mlgate init --example churn`, quick, its tables moved to a DVC local-folder remote: the
    checkout holds only the .dvc records (no data, no DVC cache), committed with its .gitlab-ci.yml."""
    project, remote = root / "churn", root / "dvc-remote"
    mlgate = [str(Path(sys.executable).with_name("mlgate"))]
    _sh(root, *mlgate, "init", str(project), "--example", "churn")
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg.update(models=[{"type": "logistic-regression"}], tune={"enabled": False})
    cfg["gates"]["evaluate"]["bootstrap"] = 200
    cfg["gates"]["compare"]["bootstrap"] = 200
    cfg["gates"]["test"]["checks"] = ["performance", "data_distribution"]
    cfg.pop("monitor")  # a scheduled job's: the local runs below are the training pipeline's
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (project / ".gitignore").write_text(".mlgate/\nmlgate-reports/\nmlgate-report/\n.gitlab-ci-local/\n")
    _sh(project, "git", "init", "-q", "-b", "main")
    _sh(project, str(DVC), "init", "-q")
    _sh(project, str(DVC), "add", "-q", *sorted(str(p.relative_to(project)) for p in project.glob("data/*.csv")))
    _sh(project, str(DVC), "remote", "add", "-d", "local", str(remote))
    _sh(project, str(DVC), "push", "-q")
    for table in project.glob("data/*.csv"):
        table.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    _commit(project, "churn data in a DVC remote")
    return project, remote


def _job_lines(log: str, job: str) -> list[str]:
    """gitlab-ci-local's lines of one job (each starts with the job's name)."""
    return [line[len(job):].strip() for line in log.splitlines() if line.startswith(f"{job} ")]


def test_dvc_data_each_job_pulls_its_stages_inputs_and_a_rerun_reads_none(
        tmp_path: Path, gitlab_ci_local: list[str]) -> None:
    if not DVC.exists():
        _missing("dvc (pip install -e '.[dev]')")
    project, remote = _dvc_project(tmp_path)
    ci_file = (project / ".gitlab-ci.yml").read_text()
    assert "pip install 'mlgate[dvc]==" in ci_file and ".dvc/cache/" in ci_file
    assert "#   dvc remote 'local' (local): none (a folder the runner reads)" in ci_file

    outcomes, log = _run(gitlab_ci_local, project, "--needs", "evaluate-model")
    expected = ["data-validation", "train-model: [logistic-regression]", "evaluate-all-models",
                "model-validation", "evaluate-model"]
    assert {job: outcomes.get(job) for job in expected} == dict.fromkeys(expected, "PASS"), log[-6000:]
    for job, tables in DATA_JOBS.items():
        name = next(n for n in expected if n.startswith(job))
        lines = _job_lines(log, name)
        pulls = [line for line in lines if "$ dvc pull" in line]
        assert pulls == [f"$ dvc pull {' '.join(f'{t}.dvc' for t in tables)}"], (job, lines[:40])
        # the job's own folder (a matrix job's name is the job's with its variable's value)
        folder = next(b for b in (project / ".gitlab-ci-local" / "builds").iterdir() if b.name.startswith(job))
        assert sorted(p.relative_to(folder).as_posix() for p in folder.glob("data/*.csv")) == tables, job
        # the job pulled first, so the pipeline found its data and fetched nothing itself
        assert not any("mlgate: dvc pull" in line for line in lines), (job, lines)
    pick = _job_lines(log, "evaluate-all-models")
    assert pick and not any("dvc pull" in line for line in pick), pick
    assert not list((project / ".gitlab-ci-local" / "builds" / "evaluate-all-models").glob("data/*.csv"))

    # locally, in the checkout: the first run pulls once; the second, with the data files deleted
    # and the remote moved away (any read of data would fail), finds every stage cached
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    first = subprocess.run([sys.executable, "-m", "mlgate", "run"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    pulls = [line for line in first.stderr.splitlines() if line.startswith("mlgate: dvc pull")]
    assert len(pulls) == 1 and "dvc pull data/test.csv.dvc data/train.csv.dvc" in pulls[0], first.stderr
    for table in project.glob("data/*.csv"):
        table.unlink()
    remote.rename(remote.with_name("moved-away"))
    again = subprocess.run([sys.executable, "-m", "mlgate", "run"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "dvc pull" not in again.stderr and not list(project.glob("data/*.csv")), again.stderr
    latest = (project / ".mlgate" / "runs" / "LATEST").read_text().strip()
    stages = json.loads((project / ".mlgate" / "runs" / latest / "run.json").read_text())["stages"]
    assert {s["name"]: s["status"] for s in stages} == dict.fromkeys([s["name"] for s in stages], "cached")
