"""The generated GitHub workflow's jobs, their ``run:`` steps executed in order in bash.

A small runner for the tests, not a product feature: each job runs in a temporary copy of
the project; ``uses:`` steps are left out (checkout: the copy is the checkout; setup-python
and the install line: the mlgate under test is first on PATH; artifact up/downloads: the
state is copied by hand where a job declares it); each ``run:`` step gets a fresh
``$GITHUB_OUTPUT`` file, whose ``name=value`` lines become ``steps.<id>.outputs.<name>``, and
``${{ ... }}`` expressions of steps, matrix and job outputs are filled in. A step runs when
every step before it succeeded, or when its ``if:`` says ``always()``, as on GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass
class JobResult:
    folder: Path
    failed: bool = False
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step id -> its outputs
    logs: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)

    def job_outputs(self, job: dict[str, Any]) -> dict[str, str]:
        return {k: self.fill(v) for k, v in job.get("outputs", {}).items()}

    def fill(self, text: str, matrix: dict[str, str] | None = None) -> str:
        def value(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("steps."):
                _, step, _, name = expr.split(".", 3)
                return self.outputs.get(step, {}).get(name, "")
            if expr.startswith("matrix."):
                return (matrix or {})[expr.removeprefix("matrix.")]
            raise AssertionError(f"the test runner does not evaluate ${{{{ {expr} }}}}")

        return EXPRESSION.sub(value, text)


def run_job(job: dict[str, Any], folder: Path, env: dict[str, str],
            matrix: dict[str, str] | None = None) -> JobResult:
    """Run a job's ``run:`` steps in order in ``folder``; outputs through $GITHUB_OUTPUT files."""
    result = JobResult(folder)
    for index, step in enumerate(job["steps"]):
        if "run" not in step or step["run"].startswith("pip install"):
            continue
        if result.failed and "always()" not in str(step.get("if", "")):
            continue
        output_file = folder.parent / f"{folder.name}-output-{index}"
        output_file.write_text("")
        script = result.fill(step["run"], matrix)
        out = subprocess.run(["bash", "-e", "-c", script], cwd=folder, capture_output=True, text=True, timeout=300,
                             env={**env, "GITHUB_OUTPUT": str(output_file),
                                  "GITHUB_STEP_SUMMARY": str(folder.parent / f"{folder.name}-summary.md")})
        result.logs.append(f"$ {script}\n{out.stdout}{out.stderr}")
        result.ran.append(step.get("id", str(index)))
        if "id" in step:
            lines = output_file.read_text().splitlines()
            result.outputs[step["id"]] = dict(line.split("=", 1) for line in lines if "=" in line)
        result.failed = result.failed or out.returncode != 0
    return result


def _project(root: Path, min_quality: float) -> tuple[Path, dict[str, Any]]:
    from mlgate.ci import render
    from mlgate.config import load_config
    from mlgate.examples.churn import write_example

    write_example(root, n_rows=600)
    cfg = yaml.safe_load((root / "mlgate.yaml").read_text())
    cfg["gates"]["validate"]["min_quality_score"] = min_quality
    (root / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    text, path = render("github", load_config(root / "mlgate.yaml"))
    (root / path).parent.mkdir(parents=True)
    (root / path).write_text(text)
    return root, yaml.safe_load(text)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "MLGATE_", "MLFLOW_"))}
    return {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "CI": "true"}


@pytest.mark.parametrize(("min_quality", "passed"), [(0.9, True), (0.999, False)])
def test_data_validation_steps_pass_their_outputs_and_keep_reports(tmp_path: Path, min_quality: float,
                                                                   passed: bool) -> None:
    project, doc = _project(tmp_path / "project", min_quality)
    job = doc["jobs"]["data-validation"]
    folder = tmp_path / "data-validation"
    shutil.copytree(project, folder)
    result = run_job(job, folder, _env())
    log = "\n".join(result.logs)
    assert result.failed is not passed, log
    # the steps after the gate ran with if: always(): the figures and the job summary
    assert result.ran[-2:] == ["figures", str(next(i for i, s in enumerate(job["steps"])
                                                   if "GITHUB_STEP_SUMMARY" in s.get("run", "")))], result.ran
    outputs = result.job_outputs(job)
    assert outputs["passed"] == str(passed).lower(), (outputs, log)
    assert 0.9 < float(outputs["quality-score"]) < 1.0, outputs
    # what train-model's if: compares: the quality score against the gate's minimum
    assert (float(outputs["quality-score"]) >= min_quality) is passed
    reports = folder / "mlgate-reports" / "validate"
    assert {"junit.xml", "report.json", "summary.md", "report.html"} <= {p.name for p in reports.iterdir()}, log
    verdict = "passed" if passed else "failed"  # the job summary shows the verdict either way
    assert (tmp_path / "data-validation-summary.md").read_text().startswith(f"### {'✅' if passed else '❌'} "
                                                                            f"mlgate validate: {verdict}")


def test_pr_report_on_a_push_writes_the_report_and_exits_0(tmp_path: Path) -> None:
    project, doc = _project(tmp_path / "project", 0.9)
    validate = tmp_path / "data-validation"
    shutil.copytree(project, validate)
    assert not run_job(doc["jobs"]["data-validation"], validate, _env()).failed
    folder = tmp_path / "pr-report"
    shutil.copytree(project, folder)
    shutil.copytree(validate / "mlgate-reports", folder / "mlgate-reports")  # download-artifact reports-*
    result = run_job(doc["jobs"]["pr-report"], folder, _env())
    log = "\n".join(result.logs)
    assert not result.failed, log
    assert "Not posted: --post needs a GitLab merge-request pipeline" in log
    assert (folder / "merged-report" / "summary.md").is_file()
