"""GitHub Actions workflow in the seed's shape: matrix, schedule, manual inputs, job outputs,
container build with SBOM and scan, staging, canary and blue-green production, monitoring.

Gate jobs pass the pipeline state on as artifacts (``state-<job>``) and their reports as
``reports-<job>`` (for the pull-request comment). "Manual" production steps are GitHub
environments: give ``production`` required reviewers and each job waits for approval.
"""

from __future__ import annotations

from typing import Any

from mlgate.ci import plan as p
from mlgate.ci.matrix import CANDIDATES_DIR
from mlgate.ci.plan import Plan

Job = dict[str, Any]
Step = dict[str, Any]
ACTIONS = {
    "checkout": "actions/checkout@v5",
    "python": "actions/setup-python@v6",
    "cache": "actions/cache@v4",
    "upload": "actions/upload-artifact@v4",
    "download": "actions/download-artifact@v5",
    "junit": "mikepenz/action-junit-report@v5",
    "buildx": "docker/setup-buildx-action@v3",
    "login": "docker/login-action@v3",
    "build": "docker/build-push-action@v6",
    "sbom": "anchore/sbom-action@v0",
    "trivy": "aquasecurity/trivy-action@0.33.1",
    "sarif": "github/codeql-action/upload-sarif@v4",
}
# the training chain: pushes, pull requests, the daily retrain (schedule), and a dispatch asking for it
CHAIN = "github.event_name != 'workflow_dispatch' || inputs.force_retrain"
NOT_SCHEDULED = "(github.event_name == 'push' || github.event_name == 'workflow_dispatch')"
ON_MAIN = "github.ref == 'refs/heads/{branch}'"
_READ = {"contents": "read"}
_GATE = {"contents": "read", "checks": "write"}  # checks: the JUnit report as a check run


def render_github(plan: Plan, staging_url: str | None, production_url: str | None) -> dict[str, Any]:
    """The workflow document of ``plan``."""
    jobs = _gate_jobs(plan)
    jobs.update(_delivery_jobs(plan, staging_url, production_url))
    return {
        "name": f"mlgate {plan.project}",
        "on": {
            "push": {"branches": [plan.branch]},
            "pull_request": {"branches": [plan.branch]},
            "schedule": [{"cron": plan.schedule}],
            "workflow_dispatch": {"inputs": {
                "environment": {"description": "Deployment environment", "required": True, "default": "staging",
                                "type": "choice", "options": ["staging", "production"]},
                "force_retrain": {"description": "Run the training pipeline (otherwise only deploy)",
                                  "required": False, "type": "boolean", "default": False},
                "tune": {"description": "Run the hyper-parameter search job", "required": False,
                         "type": "boolean", "default": False},
            }},
        },
        "permissions": {},  # each job asks for what it needs
        "concurrency": {"group": "mlgate-${{ github.ref }}", "cancel-in-progress": False},
        "env": {"PYTHON_VERSION": plan.python, "MLFLOW_TRACKING_URI": "${{ secrets.MLFLOW_TRACKING_URI }}",
                # the data sources' credentials (an unset secret is an empty variable, which the SDKs ignore)
                **{v: f"${{{{ secrets.{v} }}}}" for v in _data_variables(plan)}},
        "jobs": jobs,
    }


def _data_variables(plan: Plan) -> list[str]:
    return list(dict.fromkeys(v for names in plan.data_variables.values() for v in names))


def _setup(plan: Plan, install: str | None = None) -> list[Step]:
    # DVC's cache is keyed by the records too: new data makes a new entry instead of a stale hit
    records = ", '**/*.dvc', '**/dvc.lock'" if p.DVC_CACHE in plan.data_cache else ""
    key = f"mlgate-${{{{ runner.os }}}}-${{{{ hashFiles('mlgate.yaml', 'requirements*.txt'{records}) }}}}"
    return [
        {"uses": ACTIONS["checkout"]},
        {"uses": ACTIONS["python"], "with": {"python-version": "${{ env.PYTHON_VERSION }}"}},
        {"uses": ACTIONS["cache"], "with": {"path": "\n".join(["~/.cache/pip", *plan.data_cache]), "key": key}},
        {"run": install or plan.install},
    ]


def _state_in(job: str) -> Step:
    return {"uses": ACTIONS["download"], "with": {"name": f"state-{job}", "path": "."}}


def _state_out(job: str) -> list[Step]:
    paths = "\n".join([".mlgate/", f"{p.REPORTS}/", "!.mlgate/runs/latest"])  # artifacts keep no symlinks
    return [{"if": "always()", "uses": ACTIONS["upload"],
             "with": {"name": f"state-{job}", "path": paths, "include-hidden-files": True, "retention-days": 7}},
            {"if": "always()", "uses": ACTIONS["upload"],
             "with": {"name": f"reports-{job}", "path": f"{p.REPORTS}/", "retention-days": 7}}]


def _reports(stage: str) -> list[Step]:
    folder = f"{p.REPORTS}/{stage}"
    return [{"if": "always()", "run": f'cat {folder}/summary.md >> "$GITHUB_STEP_SUMMARY" || true'},
            # a fork's pull request gets a read-only token: no check run then, but the gate's verdict stands
            {"if": "always()", "uses": ACTIONS["junit"], "continue-on-error": True,
             "with": {"report_paths": f"{folder}/junit.xml", "check_name": f"mlgate {stage}"}}]


def _gate(plan: Plan, job: str, stage: str, needs: list[str], *, script: list[str] | None = None,
          state_from: str | None = None, inputs: tuple[Step, ...] = (), outputs: dict[str, str] | None = None) -> Job:
    """A gate job: set up, take the state of ``state_from`` (default: the last need), run, publish."""
    source = state_from or (needs[-1] if needs else None)
    figures = [_figures(stage, outputs)] if outputs else []
    steps = [*_setup(plan), *([_state_in(source)] if source else []), *inputs,
             {"id": "gate", "run": "\n".join(script or p.gate(stage, plan.fetch(stage)))}, *figures,
             *_reports(stage), *_state_out(job)]
    out: Job = {"runs-on": "ubuntu-latest", "permissions": _GATE, "if": CHAIN, "steps": steps}
    if needs:
        out["needs"] = needs
    return out


def _figures(stage: str, keys: dict[str, str]) -> Step:
    """Job outputs read from the stage's report.json, written to $GITHUB_OUTPUT (not set-output)."""
    reads = ";".join(f"print('{name}=' + str({expr}))" for name, expr in keys.items())
    return {"id": "figures", "if": "always()",
            "run": (f"python -c \"import json;r=json.load(open('{p.REPORTS}/{stage}/report.json'));{reads}\" "
                    '>> "$GITHUB_OUTPUT"')}


def _gate_jobs(plan: Plan) -> dict[str, Job]:
    jobs: dict[str, Job] = {}
    validate = _gate(plan, "data-validation", "validate", [],
                     outputs={"passed": "str(r['passed']).lower()", "quality-score": "r.get('score') or 0"})
    validate["outputs"] = {"passed": "${{ steps.figures.outputs.passed }}",
                           "quality-score": "${{ steps.figures.outputs.quality-score }}"}
    jobs["data-validation"] = validate
    if plan.tests:
        jobs["unit-tests"] = {"runs-on": "ubuntu-latest", "permissions": _READ, "if": CHAIN,
                              "steps": [*_setup(plan), {"run": plan.tests}]}
    jobs["ci-file-check"] = {"runs-on": "ubuntu-latest", "permissions": _READ, "if": CHAIN,
                             "steps": [*_setup(plan), {"run": "\n".join(p.file_check("github"))}]}
    jobs["security-scan"] = {"runs-on": "ubuntu-latest", "permissions": _GATE, "if": CHAIN,
                             "steps": [*_setup(plan, plan.scan_install), {"run": "\n".join(p.scan())},
                                       *_reports("scan")]}
    before = "data-validation"
    if plan.tune_in_pipeline:
        jobs["tune"] = _gate(plan, "tune", "tune", [before])
        before = "tune"
    search: Job = {"runs-on": "ubuntu-latest", "permissions": _READ, "needs": ["data-validation"],
                   "if": "github.event_name == 'workflow_dispatch' && inputs.tune",
                   "steps": [*_setup(plan), _state_in("data-validation"), {"run": "\n".join(p.tune_worker(plan))},
                             {"if": "always()", "uses": ACTIONS["upload"],
                              "with": {"name": "hpo-results-${{ strategy.job-index }}", "path": f"{p.REPORTS}/tune/"}}]}
    if plan.tune_workers > 1:  # workers of one study in the shared storage
        search["strategy"] = {"matrix": {"worker": list(range(1, plan.tune_workers + 1))}}
    jobs["hyperparameter-tuning"] = search
    quality = ("needs.data-validation.outputs.passed == 'true' && "
               f"fromJSON(needs.data-validation.outputs.quality-score) >= {plan.min_quality_score}")
    jobs["train-model"] = {
        "runs-on": "ubuntu-latest", "permissions": _READ,
        "needs": sorted({"data-validation", before}), "if": f"{CHAIN} && {quality}",
        "strategy": {"fail-fast": False, "matrix": {"candidate": list(plan.candidates)}},
        "continue-on-error": True,  # a candidate that fails is a warning, as in `mlgate run`
        "steps": [*_setup(plan), _state_in(before),
                  {"run": "\n".join(p.train_candidate("${{ matrix.candidate }}", plan.fetch("train")))},
                  {"if": "always()", "uses": ACTIONS["upload"],
                   "with": {"name": "candidate-${{ matrix.candidate }}", "path": f"{CANDIDATES_DIR}/",
                            "include-hidden-files": True, "retention-days": 7}}]}
    candidates = {"uses": ACTIONS["download"], "with": {"pattern": "candidate-*", "merge-multiple": True,
                                                        "path": CANDIDATES_DIR}}
    pick = _gate(plan, "evaluate-all-models", "train", [before, "train-model"], script=p.pick_best(),
                 state_from=before, inputs=(candidates,), outputs={"best-model": "r['best']['label']"})
    pick["outputs"] = {"best-model": "${{ steps.figures.outputs.best-model }}"}
    jobs["evaluate-all-models"] = pick
    previous = "evaluate-all-models"
    chain = ["data-validation", *(["tune"] if plan.tune_in_pipeline else []), "evaluate-all-models"]
    for job, stage in (("model-validation", "test"), ("evaluate-model", "evaluate"), ("compare-models", "compare")):
        if stage in plan.stages:
            jobs[job] = _gate(plan, job, stage, [previous])
            previous = job
            chain.append(job)
    jobs["pr-report"] = {
        "runs-on": "ubuntu-latest", "needs": chain, "permissions": {"contents": "read", "pull-requests": "write"},
        "if": "always() && github.event_name == 'pull_request'",
        "env": {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"},
        "steps": [*_setup(plan), {"uses": ACTIONS["download"], "with": {"pattern": "reports-*", "merge-multiple": True,
                                                                        "path": p.REPORTS}},
                  {"run": "\n".join(p.report(post=True))},
                  {"if": "always()", "uses": ACTIONS["upload"],
                   "with": {"name": p.MERGED, "path": f"{p.MERGED}/"}}]}
    register = _gate(plan, "register-model", "register", [previous])
    register["if"] = f"{CHAIN} && {ON_MAIN.format(branch=plan.branch)} && github.event_name != 'pull_request'"
    register["concurrency"] = {"group": "mlgate-registry", "cancel-in-progress": False}
    jobs["register-model"] = register
    return jobs


def _delivery_jobs(plan: Plan, staging_url: str | None, production_url: str | None) -> dict[str, Job]:
    main = ON_MAIN.format(branch=plan.branch)
    secrets = {"MLGATE_API_KEY": "${{ secrets.MLGATE_API_KEY }}", "MLGATE_ADMIN_KEY": "${{ secrets.MLGATE_ADMIN_KEY }}"}
    image = "ghcr.io/${{ github.repository }}:${{ github.sha }}"
    proceed = "!cancelled() && !failure()"

    def env(name: str, url: str | None) -> dict[str, str]:
        return {"name": name, **({"url": url} if url else {})}

    def deploy(needs: list[str], cond: str, environment: dict[str, str], script: list[str]) -> Job:
        return {"runs-on": "ubuntu-latest", "needs": needs, "if": cond, "permissions": _READ,
                "environment": environment, "env": secrets,
                "concurrency": {"group": f"deploy-{environment['name']}", "cancel-in-progress": False},
                "steps": [*_setup(plan), {"run": "\n".join(script)}]}

    def state(job: str) -> Step:  # the embedded store, when the job that owns it ran in this workflow
        return {**_state_in(job), "continue-on-error": True}

    def keep(job: str) -> list[Step]:
        return [{"if": "always()", "uses": ACTIONS["upload"],
                 "with": {"name": f"state-{job}", "path": "\n".join([".mlgate/", f"{p.REPORTS}/"]),
                          "include-hidden-files": True, "retention-days": 7}}]

    staging = deploy(["register-model"], f"{proceed} && {main} && {NOT_SCHEDULED}",
                     env("staging", staging_url), p.deploy("staging"))
    staging["steps"][-1:-1] = [state("register-model")]
    staging["steps"] += keep("deploy-staging")
    # production only when asked for: a dispatch with environment=production; the job holds until
    # the canary analysis promotes (exit 0) or rolls back (exit 1)
    canary = deploy(["deploy-staging"], f"{proceed} && github.event_name == 'workflow_dispatch' && "
                    "inputs.environment == 'production'", env("production", production_url),
                    p.canary("production"))
    canary["steps"][-1:-1] = [state("deploy-staging")]
    canary["steps"] += keep("canary-deploy")
    jobs: dict[str, Job] = {
        "build-container": {
            "runs-on": "ubuntu-latest", "needs": ["register-model"], "if": f"{proceed} && {main} && {NOT_SCHEDULED}",
            "permissions": {"contents": "read", "packages": "write"},
            "outputs": {"image-digest": "${{ steps.build.outputs.digest }}"},
            "steps": [*_setup(plan), state("register-model"), {"run": "\n".join(p.render_k8s(image))},
                      {"uses": ACTIONS["buildx"]},
                      {"uses": ACTIONS["login"], "with": {"registry": "ghcr.io", "username": "${{ github.actor }}",
                                                          "password": "${{ secrets.GITHUB_TOKEN }}"}},
                      {"id": "build", "uses": ACTIONS["build"],
                       "with": {"context": "k8s", "file": "k8s/Dockerfile", "push": True, "tags": image,
                                "labels": "org.opencontainers.image.revision=${{ github.sha }}"}},
                      {"uses": ACTIONS["sbom"], "with": {"image": image, "format": "cyclonedx-json",
                                                         "output-file": "sbom.json"}}]},
        "container-security": {
            "runs-on": "ubuntu-latest", "needs": ["build-container"], "if": f"{proceed} && {main} && {NOT_SCHEDULED}",
            "permissions": {"contents": "read", "packages": "read", "security-events": "write"},
            "steps": [{"uses": ACTIONS["trivy"], "with": {"image-ref": image, "format": "sarif",
                                                          "output": "trivy-results.sarif", "exit-code": "1",
                                                          "severity": "HIGH,CRITICAL"}},
                      {"if": "always()", "uses": ACTIONS["sarif"], "with": {"sarif_file": "trivy-results.sarif"}}]},
    }
    if plan.monitor:
        jobs["monitor-model"] = {"runs-on": "ubuntu-latest", "if": "github.event_name == 'schedule'",
                                 "permissions": _GATE, "env": secrets,
                                 "steps": [*_setup(plan), {"run": "\n".join(p.monitor(plan.fetch("monitor")))},
                                           *_reports("monitor")]}
    if plan.kubernetes:  # the cluster's Argo Rollouts runs the canary and its analysis
        jobs["deploy-kubernetes"] = {
            "runs-on": "ubuntu-latest", "needs": ["build-container", "container-security"], "permissions": _READ,
            "if": f"{proceed} && github.event_name == 'workflow_dispatch' && inputs.environment == 'production'",
            "environment": env("production", production_url),
            "steps": [*_setup(plan), state("register-model"), {"run": "\n".join(p.render_k8s(image))},
                      {"run": "kubectl apply -f k8s/"}]}
        return jobs
    jobs.update({"deploy-staging": staging, "canary-deploy": canary})
    if production_url:
        jobs["deploy-production"] = deploy(["canary-deploy"], f"{proceed} && needs.canary-deploy.result == 'success'",
                                           env("production", production_url), p.production_tests(production_url))
    return jobs
