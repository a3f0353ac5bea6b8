"""mlgate's own CI (not the generated one): a `tests` job and a `lower-bounds` job on both platforms.

The jobs only call the scripts in .ci/, so what CI runs is what a developer runs; these tests
hold both files to that, and lint the workflow with the same validators as the generated files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_configs import lint

ROOT = Path(__file__).resolve().parents[3]
GITHUB = ROOT / ".github" / "workflows" / "ci.yml"
GITLAB = ROOT / ".gitlab-ci.yml"
JOBS = {"tests": "bash .ci/run", "lower-bounds": "bash .ci/lower-bounds"}


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path} does not hold a mapping"
    return doc


def test_github_jobs_run_the_scripts_on_python_311() -> None:
    jobs = _load(GITHUB)["jobs"]
    assert set(jobs) == set(JOBS)
    for name, script in JOBS.items():
        steps = jobs[name]["steps"]
        assert [s["run"] for s in steps if "run" in s] == [script], name
        pythons = [s["with"]["python-version"] for s in steps if str(s.get("uses", "")).startswith(
            "actions/setup-python@")]
        assert pythons == ["3.11"], name
        assert any(str(s.get("uses", "")).startswith("actions/checkout@") for s in steps), name


def test_gitlab_jobs_run_the_scripts_on_python_311() -> None:
    doc = _load(GITLAB)
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
    assert set(jobs) == set(JOBS)
    for name, script in JOBS.items():
        assert jobs[name]["script"] == [script], name
        assert jobs[name].get("image", doc["default"]["image"]) == "python:3.11", name


def test_scripts_exist_and_are_bash() -> None:
    for script in JOBS.values():
        path = ROOT / script.split()[1]
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n"), path
        assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0, path


def test_workflow_passes_actionlint(actionlint: list[str]) -> None:
    findings = lint(actionlint, GITHUB)
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)


def test_both_files_pass_the_platform_schemas() -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    if not tool.exists():
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    for args in (["--builtin-schema", "vendor.github-workflows", str(GITHUB)],
                 ["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(GITLAB)]):
        out = subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
