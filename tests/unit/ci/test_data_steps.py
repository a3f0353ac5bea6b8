"""Data in the generated CI: each job pulls exactly its stage's DVC-tracked inputs, installs DVC
(and the remote's plugin), caches .dvc/cache/, and the header names the data sources' CI variables."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_configs import example_raw, lint
from test_validation import SCHEMAS, _schema_tool

from mlgate import __version__
from mlgate.ci import CI_EXPORTERS, render
from mlgate.config import Config, config_from_dict

# the monitor: its reference (the training table) and current batch
MONITOR_PULL = "dvc pull data/current.csv.dvc data/train.csv.dvc"
# each job that reads data: the one `dvc pull` line it runs first (the example also DVC-tracks
# data/current.csv, which only the monitor reads)
PULLS = {"data-validation": "dvc pull data/test.csv.dvc data/train.csv.dvc",
         "tune": "dvc pull data/train.csv.dvc",
         "train-model": "dvc pull data/train.csv.dvc",
         "hyperparameter-tuning": "dvc pull data/train.csv.dvc",
         "model-validation": "dvc pull data/test.csv.dvc data/train.csv.dvc",
         "evaluate-model": "dvc pull data/test.csv.dvc",
         "compare-models": "dvc pull data/test.csv.dvc"}
MONITOR = {"gitlab": "monitor-deployment", "github": "monitor-model"}


def _dvc_project(root: Path, remote: str) -> Config:
    """The churn example's config in a folder whose three tables are DVC-tracked (records only)."""
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n")
    (root / "data").mkdir()
    for name in ("train", "test", "current"):
        (root / "data" / f"{name}.csv.dvc").write_text(f"outs:\n- md5: {name:0<32}\n  hash: md5\n  path: {name}.csv\n")
    return config_from_dict(example_raw(), root)


def _doc(platform: str, config: Config) -> tuple[str, dict[str, Any]]:
    text = render(platform, config)[0]
    return text, yaml.safe_load(text)


def _jobs(platform: str, doc: dict[str, Any]) -> dict[str, Any]:
    if platform == "github":
        return dict(doc["jobs"])
    return {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}


def _script(platform: str, job: dict[str, Any]) -> list[str]:
    """The job's own command lines, without set-up (GitLab's script, GitHub's run steps after install)."""
    if platform == "gitlab":
        return list(job["script"])
    runs = [s["run"] for s in job["steps"] if "run" in s]
    return [line for run in runs[1:] for line in run.splitlines()]


def _installs(platform: str, doc: dict[str, Any]) -> set[str]:
    if platform == "gitlab":
        return {line for job in [doc["default"], *_jobs("gitlab", doc).values()]
                for line in job.get("before_script", []) if line.startswith("pip install")}
    return {s["run"] for job in _jobs("github", doc).values() for s in job.get("steps", [])
            if s.get("run", "").startswith("pip install")}


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_each_data_job_pulls_exactly_its_stages_inputs(platform: str, tmp_path: Path) -> None:
    _, doc = _doc(platform, _dvc_project(tmp_path, "s3://team-bucket/dvc"))
    jobs = _jobs(platform, doc)
    for job, pull in PULLS.items():
        script = _script(platform, jobs[job])
        assert script[0] == pull, (job, script)
        assert sum(line.startswith("dvc ") for line in script) == 1, (job, script)
    assert _script(platform, jobs[MONITOR[platform]])[0] == MONITOR_PULL
    # the pick reads the candidates' outputs and register the artifact: neither pulls
    for job in ("evaluate-all-models", "register-model", "deploy-staging", "canary-deploy"):
        assert not any("dvc" in line for line in _script(platform, jobs[job])), job


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_install_line_cache_and_header_for_an_s3_remote(platform: str, tmp_path: Path) -> None:
    text, doc = _doc(platform, _dvc_project(tmp_path, "s3://team-bucket/dvc"))
    installs = _installs(platform, doc)
    assert f"pip install 'mlgate[dvc]=={__version__}' 'dvc[s3]'" in installs, installs
    assert f"pip install 'mlgate[security]=={__version__}'" in installs, installs  # the scan reads no data
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert ("#   dvc remote 'store' (s3): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, "
            "AWS_DEFAULT_REGION, AWS_ENDPOINT_URL") in header, header
    if platform == "gitlab":
        assert ".dvc/cache/" in doc["default"]["cache"]["paths"]
    else:
        cache = next(s for s in doc["jobs"]["data-validation"]["steps"] if "actions/cache" in s.get("uses", ""))
        assert ".dvc/cache/" in cache["with"]["path"].splitlines()
        assert "'**/*.dvc'" in cache["with"]["key"]
        assert doc["env"]["AWS_SECRET_ACCESS_KEY"] == "${{ secrets.AWS_SECRET_ACCESS_KEY }}"


def test_a_local_folder_remote_needs_dvc_alone_and_no_variables(tmp_path: Path) -> None:
    text, doc = _doc("gitlab", _dvc_project(tmp_path, "/mnt/dvc-store"))
    assert doc["default"]["before_script"] == [f"pip install 'mlgate[dvc]=={__version__}'"]
    assert "#   dvc remote 'store' (local): none (a folder the runner reads)" in text.splitlines()


def test_requirements_install_adds_the_dvc_package(tmp_path: Path) -> None:
    raw = example_raw()
    raw["ci"] = {"requirements": "requirements.txt"}
    _dvc_project(tmp_path, "s3://team-bucket/dvc")
    _, doc = _doc("gitlab", config_from_dict(raw, tmp_path))
    assert doc["default"]["before_script"] == ["pip install -r requirements.txt 'dvc[s3]'"]


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_object_storage_is_read_in_place_and_local_files_need_nothing(platform: str, tmp_path: Path) -> None:
    raw = example_raw()
    raw["data"].update(train="s3://churn/train.parquet", test="s3://churn/test.parquet")
    raw.pop("monitor")
    text, doc = _doc(platform, config_from_dict(raw, tmp_path))
    assert "dvc" not in "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert "#   s3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, " \
           "AWS_ENDPOINT_URL" in text.splitlines()
    if platform == "github":
        assert doc["env"]["AWS_ENDPOINT_URL"] == "${{ secrets.AWS_ENDPOINT_URL }}"
    plain, _ = _doc(platform, config_from_dict(example_raw(), tmp_path))
    assert "dvc" not in plain and "# Data" not in plain and "AWS_" not in plain


@pytest.mark.parametrize("platform", sorted(SCHEMAS))
def test_the_dvc_files_pass_the_platform_schema(platform: str, tmp_path: Path) -> None:
    file = tmp_path / f"dvc-{platform}.yml"
    file.write_text(render(platform, _dvc_project(tmp_path / "p", "s3://team-bucket/dvc"))[0])
    out = subprocess.run([str(_schema_tool()), *SCHEMAS[platform], str(file)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_dvc_workflow_passes_actionlint(actionlint: list[str], tmp_path: Path) -> None:
    file = tmp_path / "dvc-github.yml"
    file.write_text(render("github", _dvc_project(tmp_path / "p", "s3://team-bucket/dvc"))[0])
    findings = lint(actionlint, file)
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)
