"""The CI exporters: the seed's jobs, matrix, triggers, install line, secrets, --check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_configs import make_config

from mlgate import __version__
from mlgate.ci import CI_EXPORTERS, render, stale_diff
from mlgate.config import Config
from mlgate.errors import UsageError

# every job of the seed's two files, and its counterpart here
SEED_GITLAB = {"data-validation": "data-validation", "unit-tests": "unit-tests", "security-scan": "security-scan",
               "container-security": "container-security", "integration-tests": "deploy-staging",
               "model-validation": "model-validation", "train-model": "train-model",
               "hyperparameter-tuning": "hyperparameter-tuning", "evaluate-model": "evaluate-model",
               "compare-models": "compare-models", "register-model": "register-model",
               "deploy-staging": "deploy-staging", "canary-deploy": "canary-deploy",
               "deploy-production": "deploy-production", "monitor-deployment": "monitor-deployment"}
SEED_GITHUB = {"validate-data": "data-validation", "train-model": "train-model",
               "evaluate-models": "evaluate-all-models", "build-container": "build-container",
               "security-scan": "container-security", "deploy-staging": "deploy-staging",
               "canary-deploy": "canary-deploy", "deploy-production": "deploy-production",
               "monitor-model": "monitor-model"}


def _doc(platform: str, config: Config) -> dict[str, Any]:
    return yaml.safe_load(render(platform, config)[0])


def _jobs(platform: str, doc: dict[str, Any]) -> dict[str, Any]:
    if platform == "github":
        return dict(doc["jobs"])
    return {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}


def _commands(platform: str, job: dict[str, Any]) -> list[str]:
    if platform == "gitlab":
        return [*job.get("before_script", []), *job["script"]]
    return [line for s in job["steps"] if "run" in s for line in s["run"].splitlines()]


def test_every_seed_job_has_its_counterpart() -> None:
    config = make_config("example")
    config.ci.tests = "pytest tests/unit"
    gitlab, github = _jobs("gitlab", _doc("gitlab", config)), _jobs("github", _doc("github", config))
    assert {ours for ours in SEED_GITLAB.values()} <= set(gitlab)
    assert {ours for ours in SEED_GITHUB.values()} <= set(github)


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_train_is_a_matrix_over_the_candidates_then_one_pick(platform: str, any_config: Config) -> None:
    jobs = _jobs(platform, _doc(platform, any_config))
    labels = [m.label for m in any_config.models]
    train = jobs["train-model"]
    matrix = (train["parallel"]["matrix"][0]["MLGATE_CANDIDATE"] if platform == "gitlab"
              else train["strategy"]["matrix"]["candidate"])
    assert matrix == labels
    assert any("mlgate train --candidate" in c for c in _commands(platform, train))
    pick = jobs["evaluate-all-models"]
    assert "train-model" in pick["needs"]
    assert any(c.startswith("mlgate train --pick-best") for c in _commands(platform, pick))
    # every stage after train runs through the pipeline, so earlier stages come from the artifact
    for job, stage in (("model-validation", "test"), ("evaluate-model", "evaluate"), ("compare-models", "compare"),
                       ("register-model", "register")):
        assert f"mlgate run --until {stage} || status=$?" in _commands(platform, jobs[job])


def test_gitlab_manual_gates_environments_and_schedule() -> None:
    doc = _doc("gitlab", make_config("example"))
    assert doc["stages"] == ["validate", "tune", "train", "test", "evaluate", "compare", "register", "deploy",
                             "monitor"]
    manual = {name for name, job in doc.items() if isinstance(job, dict)
              and any(r.get("when") == "manual" for r in job.get("rules", []))}
    assert manual == {"hyperparameter-tuning", "register-model", "canary-deploy", "deploy-production"}
    assert doc["deploy-staging"]["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE != '
                                                     '"schedule"'}]
    assert doc["deploy-staging"]["environment"] == {"name": "staging", "url": "http://127.0.0.1:8001"}
    assert doc["deploy-production"]["environment"]["name"] == "production"
    assert doc["deploy-production"]["needs"] == ["canary-deploy"]  # only after the canary's promotion
    assert doc["deploy-production"]["script"] == ["mlgate smoke --url http://127.0.0.1:8000 "
                                                  "--output mlgate-reports/smoke"]
    assert doc["canary-deploy"]["script"] == ["mlgate deploy --env production --strategy canary --wait --lock-wait 120 "
                                              "--output mlgate-reports/canary-production"]
    assert doc["monitor-deployment"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert doc["tune"]["script"][0] == "mlgate run --until tune || status=$?"  # tune.enabled: in the pipeline
    assert doc["train-model"]["needs"] == ["tune"]
    for name in ("data-validation", "model-validation", "evaluate-all-models"):
        assert doc[name]["artifacts"]["reports"]["junit"].endswith("junit.xml")


def test_tuning_fans_out_only_on_a_shared_storage() -> None:
    gitlab = _doc("gitlab", make_config("variant"))
    assert gitlab["hyperparameter-tuning"]["parallel"] == 4
    assert gitlab["hyperparameter-tuning"]["script"] == ["mlgate tune --n-trials 10 --output mlgate-reports/tune"]
    assert "tune" not in gitlab  # tune.enabled is false: only the manual search
    github = _doc("github", make_config("variant"))
    assert github["jobs"]["hyperparameter-tuning"]["strategy"]["matrix"]["worker"] == [1, 2, 3, 4]
    assert "parallel" not in _doc("gitlab", make_config("example"))["hyperparameter-tuning"]


def test_github_triggers_inputs_outputs_and_permissions() -> None:
    doc = _doc("github", make_config("example"))
    on = doc["on"]
    assert on["schedule"] == [{"cron": "0 2 * * *"}]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["staging", "production"]
    assert inputs["force_retrain"]["type"] == "boolean"
    jobs = doc["jobs"]
    assert jobs["data-validation"]["outputs"]["quality-score"] == "${{ steps.figures.outputs.quality-score }}"
    assert "fromJSON(needs.data-validation.outputs.quality-score) >= 0.9" in jobs["train-model"]["if"]
    assert jobs["evaluate-all-models"]["outputs"]["best-model"]
    assert doc["permissions"] == {}
    for name, job in jobs.items():
        assert job["permissions"].get("contents") in ("read", None), name
        assert "write" not in job["permissions"].get("contents", ""), name
    assert jobs["pr-report"]["permissions"]["pull-requests"] == "write"
    assert jobs["container-security"]["permissions"]["security-events"] == "write"
    assert jobs["monitor-model"]["if"] == "github.event_name == 'schedule'"
    assert jobs["deploy-production"]["environment"]["name"] == "production"


def test_github_actions_are_current_majors_and_outputs_use_github_output() -> None:
    text = render("github", make_config("example"))[0]
    assert "set-output" not in text and "$GITHUB_OUTPUT" in text
    uses = set(re.findall(r"uses: (\S+)", text))
    assert {"actions/checkout@v5", "actions/setup-python@v6", "actions/upload-artifact@v4"} <= uses
    assert not any(u.endswith(("@master", "@main")) for u in uses)


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_install_line_is_the_generating_version_or_the_requirements(platform: str) -> None:
    assert f"pip install 'mlgate=={__version__}'" in render(platform, make_config("example"))[0]
    text = render(platform, make_config("variant"))[0]
    assert "pip install -r requirements.txt" in text
    assert "pip install 'mlgate" not in text and "pip install mlgate" not in text


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_secrets_never_on_a_command_line(platform: str, any_config: Config) -> None:
    for name, job in _jobs(platform, _doc(platform, any_config)).items():
        for line in _commands(platform, job):
            assert not re.search(r"MLGATE_API_KEY|MLGATE_ADMIN_KEY|MLFLOW_TRACKING_URI|GITHUB_TOKEN|--api-key|"
                                 r"--admin-key|secrets\.", line), (name, line)


def test_github_secrets_come_through_env() -> None:
    jobs = _doc("github", make_config("example"))["jobs"]
    assert jobs["deploy-production"]["env"]["MLGATE_ADMIN_KEY"] == "${{ secrets.MLGATE_ADMIN_KEY }}"


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_a_job_keeps_the_file_current(platform: str) -> None:
    jobs = _jobs(platform, _doc(platform, make_config("example")))
    assert _commands(platform, jobs["ci-file-check"])[-1] == f"mlgate ci {platform} --check"


def test_project_tests_job_only_when_configured() -> None:
    assert "unit-tests" not in _doc("gitlab", make_config("example"))
    assert _doc("gitlab", make_config("variant"))["unit-tests"]["script"] == ["pytest tests/unit"]
    assert _doc("github", make_config("variant"))["jobs"]["unit-tests"]["steps"][-1] == {"run": "pytest tests/unit"}


def test_unknown_platform_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="choose from gitlab, github"):
        render("circle", make_config("example"))


def test_stale_diff_is_empty_only_for_the_generated_text(tmp_path: Path) -> None:
    config = make_config("example")
    file = tmp_path / "ci.yml"
    assert "(from mlgate.yaml)" in stale_diff("gitlab", config, file)  # missing file
    file.write_text(render("gitlab", config)[0])
    assert stale_diff("gitlab", config, file) == ""
    config.ci.schedule = "0 3 * * *"
    assert stale_diff("github", config, file) != ""


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_a_gate_publishes_its_reports_whatever_its_exit_code(platform: str) -> None:
    jobs = _jobs(platform, _doc(platform, make_config("example")))
    for name, stage in (("data-validation", "validate"), ("evaluate-all-models", "train"),
                        ("compare-models", "compare"), ("register-model", "register")):
        lines = _commands(platform, jobs[name])
        start = next(i for i, line in enumerate(lines) if line.startswith("mlgate "))
        assert lines[start].endswith(" || status=$?"), lines  # a failure does not stop the script here
        assert f"/{stage}\" mlgate-reports/" in lines[start + 1], lines
        assert lines[start + 2] == 'exit "${status:-0}"', lines  # then the job fails with the gate
        if platform == "gitlab":
            assert jobs[name]["artifacts"]["when"] == "always"
            assert jobs[name]["artifacts"]["reports"]["junit"] == f"mlgate-reports/{stage}/junit.xml"


def test_the_shell_lines_keep_the_gates_exit_code(tmp_path: Path) -> None:
    """The three lines, run as one script the way both platforms run them, exit with the gate's code."""
    import subprocess

    from mlgate.ci.plan import keep_reports

    for code in (0, 1, 2):
        script = "\n".join(keep_reports([f"(exit {code})", "echo published > out.txt"]))
        out = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == code and (tmp_path / "out.txt").read_text() == "published\n"


def test_github_in_the_reference_workflows_shape() -> None:
    doc = _doc("github", make_config("example"))
    jobs = doc["jobs"]
    canary = jobs["canary-deploy"]["if"]
    assert "github.event_name == 'workflow_dispatch'" in canary and "inputs.environment == 'production'" in canary
    assert "push" not in canary  # a push to main goes as far as staging
    assert jobs["deploy-production"]["needs"] == ["canary-deploy"]
    assert "needs.canary-deploy.result == 'success'" in jobs["deploy-production"]["if"]
    # the schedule: monitor and the daily retrain only
    assert "schedule" not in jobs["train-model"]["if"] and "schedule" not in jobs["register-model"]["if"]
    for name in ("build-container", "container-security", "deploy-staging"):
        assert "(github.event_name == 'push' || github.event_name == 'workflow_dispatch')" in jobs[name]["if"], name
    trivy = next(s for s in jobs["container-security"]["steps"] if s.get("uses", "").startswith("aquasecurity/"))
    assert trivy["with"]["exit-code"] == "1" and trivy["with"]["severity"] == "HIGH,CRITICAL"
    assert "github/codeql-action/upload-sarif@v4" in render("github", make_config("example"))[0]
    assert any("--wait" in line for line in _commands("github", jobs["canary-deploy"]))


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_monitor_job_only_when_monitoring_is_configured(platform: str) -> None:
    name = "monitor-deployment" if platform == "gitlab" else "monitor-model"
    config = make_config("example")
    assert config.monitor.enabled and name in _jobs(platform, _doc(platform, config))
    config.monitor.current = None
    assert name not in _jobs(platform, _doc(platform, config))


def test_gitlab_security_jobs_may_fail_without_stopping_the_pipeline() -> None:
    doc = _doc("gitlab", make_config("example"))
    assert doc["security-scan"]["allow_failure"] is True and doc["container-security"]["allow_failure"] is True
    assert doc["security-scan"]["before_script"] == [f"pip install 'mlgate[security]=={__version__}'"]
    assert "--severity HIGH,CRITICAL" in doc["container-security"]["script"][-1]


def test_kubernetes_render_names_the_built_image_and_the_registered_version() -> None:
    gitlab = _doc("gitlab", make_config("example"))
    render_job = gitlab["render-image"]
    assert "image" not in render_job  # the default python image: Debian, where scikit-learn has wheels
    line = render_job["script"][-1]
    assert '--image "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"' in line and "--version" in line
    assert gitlab["build-image"]["needs"] == ["render-image"]
    github = _doc("github", make_config("example"))["jobs"]["build-container"]
    assert any('--image "ghcr.io/${{ github.repository }}:${{ github.sha }}"' in c
               for c in _commands("github", github))


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_kubernetes_target_applies_the_manifests_instead_of_the_serve_jobs(platform: str) -> None:
    config = make_config("example")
    config.ci.deploy_target = "kubernetes"
    jobs = _jobs(platform, _doc(platform, config))
    assert "kubectl apply -f k8s/" in _commands(platform, jobs["deploy-kubernetes"])
    assert not {"deploy-staging", "canary-deploy", "deploy-production"} & set(jobs)
    assert {"monitor-deployment", "monitor-model"} & set(jobs)


@pytest.mark.parametrize("registered", [True, False])
def test_kubernetes_render_takes_the_registered_version_or_leaves_it_to_deploy(
        tmp_path: Path, registered: bool) -> None:
    """A production dispatch without a retrain has no register report: the render must not fail
    reading it, and leaves the version to deploy's default (staging's version)."""
    import shutil
    import subprocess
    import sys

    script = _doc("gitlab", make_config("example"))["render-image"]["script"]
    if registered:
        from mlgate.ci.plan import REPORTS

        report = tmp_path / REPORTS / "register" / "report.json"
        report.parent.mkdir(parents=True)
        report.write_text(json.dumps({"metrics": {"version": "7"}}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    # the command line the job would run, printed instead of run: its arguments are what is tested
    lines = [*script[:-1], "printf '%s\\n' " + script[-1]]
    done = subprocess.run([shutil.which("bash") or "bash", "-euc", "\n".join(lines)], cwd=tmp_path,
                          capture_output=True, text=True,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CI_REGISTRY_IMAGE": "r/i", "CI_COMMIT_SHA": "abc"})
    assert done.returncode == 0, done.stderr
    args = done.stdout.split()
    assert args[:4] == ["mlgate", "deploy", "--target", "kubernetes"]
    assert (args[-2:] == ["--version", "7"]) if registered else ("--version" not in args)
