"""Run a generated .gitlab-ci.yml's jobs locally, in order, the way a GitLab runner would.

A small emulator, checking the matrix against `mlgate run` stage by stage; the real runner,
gitlab-ci-local, runs the file in test_ci_gitlab_runner.py.

Each job runs in a fresh copy of the project, receives the artifacts its ``needs`` declare
(the declared paths, copied from the needed jobs' folders), and runs its ``script`` lines
as one bash script, stopping at the first failure. ``parallel: matrix`` expands into one
job per value. The ``before_script`` install line is not run: the mlgate under test is the
one on PATH. Jobs for other events (merge requests, schedules), manual jobs and the stages
after ``last_stage`` are left out, as a push pipeline with nobody clicking would leave them.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class JobRun:
    name: str
    folder: Path
    variables: dict[str, str]
    artifacts: list[str]
    returncode: int = 0
    output: list[str] = field(default_factory=list)
    allow_failure: bool = False


def _expand(value: str, variables: dict[str, str]) -> str:
    for key, val in variables.items():
        value = value.replace(f"${key}", val).replace(f"${{{key}}}", val)
    return value


def _instances(name: str, job: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    matrix = (job.get("parallel") or {}).get("matrix") if isinstance(job.get("parallel"), dict) else None
    if not matrix:
        return [(name, {})]
    out = []
    for entry in matrix:
        keys = sorted(entry)
        for values in itertools.product(*(entry[k] if isinstance(entry[k], list) else [entry[k]] for k in keys)):
            variables = dict(zip(keys, values, strict=True))
            out.append((f"{name}: [{', '.join(values)}]", variables))
    return out


def _matches(condition: str, env: dict[str, str]) -> bool:
    """GitLab's ``rules: if`` for the forms the exporter writes: $VAR, "x", ==, !=, &&, ||."""
    import re

    expr = re.sub(r"\$([A-Z_][A-Z0-9_]*)", lambda m: repr(env.get(m.group(1))), condition)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    return bool(eval(expr, {"__builtins__": {}}))  # noqa: S307 - a test's own generated file


def _when(job: dict[str, Any], env: dict[str, str]) -> str:
    """The job's ``when`` in this pipeline: the first matching rule's, 'never' when none matches."""
    rules = job.get("rules")
    if rules is None:
        return "on_success"
    for rule in rules:
        if "if" not in rule or _matches(rule["if"], env):
            return str(rule.get("when", "on_success"))
    return "never"


def run_pipeline(doc: dict[str, Any], project: Path, workdir: Path, env: dict[str, str], *,
                 last_stage: str, skip_jobs: tuple[str, ...] = ()) -> dict[str, list[JobRun]]:
    """Run the jobs of the stages up to ``last_stage``; return each job's runs by job name."""
    stages: list[str] = doc["stages"][: doc["stages"].index(last_stage) + 1]
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v and v.get("stage") in stages
            and k not in skip_jobs and _when(v, env) == "on_success"}  # manual jobs: nobody clicks
    done: dict[str, list[JobRun]] = {}
    for stage in stages:
        for name, job in jobs.items():
            if job["stage"] != stage:
                continue
            needs = [n if isinstance(n, str) else n["job"] for n in job.get("needs", [])]
            missing = [n for n in needs if n not in done]
            assert not missing, f"{name} needs {missing}, which did not run before it"
            if any(r.returncode != 0 and not r.allow_failure for n in needs for r in done[n]):
                continue  # a needed job failed: GitLab skips this one
            done[name] = [_run_job(name, label, variables, job, project, workdir, env, [done[n] for n in needs])
                          for label, variables in _instances(name, job)]
    return done


def _run_job(name: str, label: str, variables: dict[str, str], job: dict[str, Any], project: Path,
             workdir: Path, env: dict[str, str], needed: list[list[JobRun]]) -> JobRun:
    folder = workdir / label.replace(": ", "-").replace("[", "").replace("]", "").replace(", ", "-")
    shutil.copytree(project, folder, symlinks=True)
    for runs in needed:
        for run in runs:
            for path in run.artifacts:
                source = run.folder / path
                if source.is_dir():
                    shutil.copytree(source, folder / path, symlinks=True, dirs_exist_ok=True)
                elif source.exists():
                    (folder / path).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, folder / path)
    artifacts = [_expand(p, variables).rstrip("/") for p in job.get("artifacts", {}).get("paths", [])]
    run = JobRun(label, folder, variables, artifacts, allow_failure=bool(job.get("allow_failure")))
    job_env = {**os.environ, **env, **{k: str(v) for k, v in job.get("variables", {}).items()}, **variables}
    for line in job["script"]:
        out = subprocess.run(["bash", "-c", line], cwd=folder, env=job_env, capture_output=True, text=True,
                             timeout=240)
        run.output.append(f"$ {line}\n{out.stdout}{out.stderr}")
        if out.returncode != 0:
            run.returncode = out.returncode
            break
    return run


# ---- the test -------------------------------------------------------------------------------

import json  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

pytestmark = pytest.mark.integration
GATE_JOBS = {"validate": "data-validation", "tune": "tune", "train": "evaluate-all-models",
             "test": "model-validation", "evaluate": "evaluate-model", "compare": "compare-models"}
GATE_JOBS_BY_NAME = {job: stage for stage, job in GATE_JOBS.items()}


def _small_project(root: Path, template: Path, models: list[dict[str, Any]], tune: bool) -> Path:
    from mlgate.examples.churn import write_example

    write_example(root, n_rows=1200)
    cfg = yaml.safe_load((root / "mlgate.yaml").read_text())
    cfg["models"] = models
    cfg["tune"] = {"enabled": tune, "model": models[-1]["type"], "n_trials": 2, "cv_folds": 2}
    cfg["gates"]["evaluate"]["bootstrap"] = 200
    cfg["gates"]["compare"]["bootstrap"] = 200
    cfg["gates"]["test"]["checks"] = ["performance", "consistency", "fairness", "edge_cases"]
    (root / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (root / ".mlgate").mkdir()
    # a migrated empty store, as a tracking server would be: saves each job 1.5 s of migrations
    shutil.copy(template, root / ".mlgate" / "mlflow.db")
    return root


def _verdicts_of_mlgate_run(project: Path, workdir: Path, env: dict[str, str],
                            last_stage: str) -> dict[str, dict[str, Any]]:
    folder = workdir / "mlgate-run"
    shutil.copytree(project, folder)
    subprocess.run(["mlgate", "run", "--until", last_stage], cwd=folder, env={**os.environ, **env},
                   capture_output=True, text=True, timeout=400)
    record = json.loads((folder / ".mlgate" / "runs" / "latest" / "run.json").read_text())
    return {s["name"]: {"status": s["status"], "key_figure": s["key_figure"],
                        "report": json.loads((Path(s["out_dir"]) / "report.json").read_text())}
            for s in record["stages"] if s["name"] in GATE_JOBS}


def _check_same_verdicts(project: Path, tmp_path: Path, last_stage: str) -> dict[str, list[JobRun]]:
    from mlgate.ci import render
    from mlgate.config import load_config

    text, path = render("gitlab", load_config(project / "mlgate.yaml"))
    (project / path).write_text(text)  # committed, as `mlgate ci gitlab` wrote it: ci-file-check passes
    doc = yaml.safe_load(text)
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "CI": "true",
           "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"}
    runs = run_pipeline(doc, project, tmp_path / "jobs", env, last_stage=last_stage,
                        skip_jobs=("security-scan",))  # the scan is not a pipeline stage (and audits online)
    expected = _verdicts_of_mlgate_run(project, tmp_path, env, last_stage)
    assert set(expected) == {GATE_JOBS_BY_NAME[j] for j in runs if j in GATE_JOBS_BY_NAME}
    for stage, want in expected.items():
        [job] = runs[GATE_JOBS[stage]]
        log = "\n".join(job.output)
        report = json.loads((job.folder / "mlgate-reports" / stage / "report.json").read_text())
        assert report["passed"] == want["report"]["passed"], (stage, log)
        assert report["key_figure"] == want["key_figure"], (stage, log)
        assert (job.returncode == 0) == want["report"]["passed"], (stage, log)
        if stage in ("train", "evaluate", "compare"):
            assert report["metrics"] == pytest.approx(want["report"]["metrics"]), stage
        if stage not in ("validate", "train"):  # the stages before it came from the artifact, cached
            record = json.loads((job.folder / ".mlgate" / "runs" / "latest" / "run.json").read_text())
            statuses = {s["name"]: s["status"] for s in record["stages"]}
            assert statuses.pop(stage) in ("ran", "failed"), log
            assert set(statuses.values()) == {"cached"}, (stage, statuses)
    return runs


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gitlab_train_matrix_reaches_the_verdicts_of_mlgate_run(tmp_path: Path, mlflow_template: Path) -> None:
    """Validate, two candidates in the matrix, pick-best (tuning off): 5 processes, about 40 s of CPU.

    The default run has the in-process variant, tests/unit/ci/test_matrix.py.
    """
    project = _small_project(tmp_path / "project", mlflow_template,
                             [{"type": "logistic-regression"},
                              {"type": "random-forest", "params": {"n_estimators": 20, "max_depth": 5}}], tune=False)
    runs = _check_same_verdicts(project, tmp_path, "train")
    assert runs["ci-file-check"][0].returncode == 0, runs["ci-file-check"][0].output
    assert [r.name for r in runs["train-model"]] == ["train-model: [logistic-regression]",
                                                     "train-model: [random-forest]"]
    assert "hyperparameter-tuning" not in runs and "register-model" not in runs  # manual


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about 12 processes, each importing MLflow: minutes on a busy 2-core machine
def test_gitlab_jobs_to_compare_with_three_candidates_and_tuning(tmp_path: Path, mlflow_template: Path) -> None:
    project = _small_project(tmp_path / "project", mlflow_template,
                             [{"type": "logistic-regression"},
                              {"type": "random-forest", "params": {"n_estimators": 20, "max_depth": 5}},
                              {"type": "gradient-boosting", "params": {"max_iter": 30}}], tune=True)
    runs = _check_same_verdicts(project, tmp_path, "compare")
    assert {"tune", "model-validation", "evaluate-model", "compare-models"} <= set(runs)
    assert len(runs["train-model"]) == 3 and runs["tune"][0].returncode == 0
