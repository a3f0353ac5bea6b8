""".gitlab-ci.yml in the seed's shape: validate, tune, train matrix, test, evaluate, compare,
register, deploy, monitor.

Each gate job runs ``mlgate run --until STAGE`` on the ``.mlgate/`` folder the job before it
passed on (its ``needs``), so only STAGE runs; the chain is linear because every job's
artifact carries the pipeline state of all stages before it.
"""

from __future__ import annotations

from typing import Any

from mlgate.ci import plan as p
from mlgate.ci.matrix import CANDIDATES_DIR
from mlgate.ci.plan import Plan

Job = dict[str, Any]
_SCHEDULE = '$CI_PIPELINE_SOURCE == "schedule"'
_MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'


def render_gitlab(plan: Plan, staging_url: str | None, production_url: str | None) -> dict[str, Any]:
    """The .gitlab-ci.yml document of ``plan``."""
    on_main = f'$CI_COMMIT_BRANCH == "{plan.branch}" && $CI_PIPELINE_SOURCE != "schedule"'
    stages = ["validate", "tune", "train", "test", "evaluate", "compare", "register", "deploy", "monitor"]
    doc: dict[str, Any] = {
        "stages": stages,
        "workflow": {"rules": [{"if": _MR}, {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"},
                               {"if": "$CI_COMMIT_BRANCH"}, {"if": _SCHEDULE}]},
        "variables": {"PYTHON_VERSION": plan.python, "PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
        "default": {"image": "python:${PYTHON_VERSION}", "before_script": [plan.install],
                    "cache": {"key": "mlgate-$CI_COMMIT_REF_SLUG",
                              "paths": [".cache/pip/", *plan.data_cache]}},
    }
    jobs = _gate_jobs(plan, on_main)
    jobs.update(_deploy_jobs(plan, on_main, staging_url, production_url))
    if plan.monitor:  # only with something to watch (monitor.current or monitor.from_log)
        jobs["monitor-deployment"] = {
            "stage": "monitor", "needs": [], "script": p.monitor(plan.fetch("monitor")),
            "rules": [{"if": _SCHEDULE}],
            "artifacts": _artifacts([f"{p.REPORTS}/monitor/"], f"{p.REPORTS}/monitor/junit.xml")}
    doc.update(jobs)
    return doc


def _gate_jobs(plan: Plan, on_main: str) -> dict[str, Job]:
    not_scheduled = [{"if": _SCHEDULE, "when": "never"}, {"when": "on_success"}]
    jobs: dict[str, Job] = {"data-validation": _gate(plan, "validate", "validate", [], not_scheduled)}
    if plan.tests:
        jobs["unit-tests"] = {"stage": "validate", "needs": [], "script": [plan.tests], "rules": not_scheduled}
    jobs["ci-file-check"] = {"stage": "validate", "needs": [], "script": p.file_check("gitlab"),
                             "rules": not_scheduled}
    # as in the reference pipeline, a failed security job is shown but does not stop the pipeline
    jobs["security-scan"] = {"stage": "validate", "needs": [], "before_script": [plan.scan_install],
                             "script": p.scan(), "rules": not_scheduled, "allow_failure": True,
                             "artifacts": _artifacts([f"{p.REPORTS}/scan/"], f"{p.REPORTS}/scan/junit.xml")}
    before_train = "data-validation"
    if plan.tune_in_pipeline:
        jobs["tune"] = _gate(plan, "tune", "tune", [before_train], not_scheduled)
        before_train = "tune"
    search: Job = {"stage": "tune", "needs": ["data-validation"], "script": p.tune_worker(plan),
                   "rules": [{"if": on_main, "when": "manual"}], "allow_failure": True,
                   "artifacts": _artifacts([f"{p.REPORTS}/tune/", ".mlgate/optuna.db"], f"{p.REPORTS}/tune/junit.xml")}
    if plan.tune_workers > 1:
        search["parallel"] = plan.tune_workers  # workers of one study in the shared storage
    jobs["hyperparameter-tuning"] = search
    jobs["train-model"] = {
        "stage": "train", "needs": [before_train], "rules": not_scheduled,
        "parallel": {"matrix": [{"MLGATE_CANDIDATE": list(plan.candidates)}]},
        "script": p.train_candidate("$MLGATE_CANDIDATE", plan.fetch("train")),
        # a candidate that fails is a warning, as in `mlgate run`: the others still compete
        "allow_failure": True,
        "artifacts": _artifacts([f"{CANDIDATES_DIR}/$MLGATE_CANDIDATE/"],
                                f"{p.REPORTS}/candidates/$MLGATE_CANDIDATE/junit.xml")}
    jobs["evaluate-all-models"] = {
        "stage": "train", "needs": [before_train, "train-model"], "rules": not_scheduled,
        "script": p.pick_best(), "artifacts": _artifacts([".mlgate/", f"{p.REPORTS}/"],
                                                          f"{p.REPORTS}/train/junit.xml")}
    previous = "evaluate-all-models"
    chain = [*(["tune"] if plan.tune_in_pipeline else []), "data-validation", "evaluate-all-models"]
    for job, stage in (("model-validation", "test"), ("evaluate-model", "evaluate"), ("compare-models", "compare")):
        if stage in plan.stages:
            jobs[job] = _gate(plan, stage, stage, [previous], not_scheduled)
            previous = job
            chain.append(job)
    # every gate job's mlgate-reports/ (each holds the stages so far); runs when one failed too
    jobs["mr-report"] = {"stage": "compare", "needs": [{"job": j, "artifacts": True} for j in chain],
                         "script": p.report(post=True), "rules": [{"if": _MR, "when": "always"}],
                         "artifacts": {"when": "always", "expose_as": "mlgate report",
                                       "paths": [f"{p.MERGED}/"], "expire_in": "1 week"}}
    jobs["register-model"] = {**_gate(plan, "register", "register", [previous], [{"if": on_main, "when": "manual"}]),
                              "allow_failure": False, "resource_group": "registry"}
    return jobs


def _deploy_jobs(plan: Plan, on_main: str, staging_url: str | None, production_url: str | None) -> dict[str, Job]:
    def env(name: str, url: str | None) -> dict[str, str]:
        return {"name": name, **({"url": url} if url else {})}

    def state(folder: str) -> dict[str, Any]:  # the store goes on (aliases and history change), and the report
        return _artifacts([".mlgate/", f"{p.REPORTS}/"], f"{p.REPORTS}/{folder}/junit.xml")

    manual = [{"if": on_main, "when": "manual"}]
    jobs: dict[str, Job] = {} if plan.kubernetes else {
        "deploy-staging": {"stage": "deploy", "needs": ["register-model"],
                           "script": p.deploy("staging"),
                           "environment": env("staging", staging_url), "rules": [{"if": on_main}],
                           "resource_group": "staging", "artifacts": state("deploy-staging")},
        # holds until the analysis promotes (production then serves it) or rolls back (exit 1)
        "canary-deploy": {"stage": "deploy", "needs": ["deploy-staging"],
                          "script": p.canary("production"),
                          "environment": env("production", production_url), "rules": manual,
                          "allow_failure": False, "resource_group": "production",
                          "artifacts": state("canary-production")},
    }
    if production_url and not plan.kubernetes:
        jobs["deploy-production"] = {
            "stage": "deploy", "needs": ["canary-deploy"], "script": p.production_tests(production_url),
            "environment": env("production", production_url), "rules": manual, "allow_failure": False,
            "resource_group": "production",
            "artifacts": _artifacts([f"{p.REPORTS}/"], f"{p.REPORTS}/smoke/junit.xml")}
    image = "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"
    jobs["render-image"] = {  # Debian (the python image): scikit-learn has no wheels for Alpine
        "stage": "deploy", "needs": ["register-model"], "rules": [{"if": on_main}],
        "script": p.render_k8s(image), "artifacts": {"paths": ["k8s/"], "expire_in": "1 week"}}
    docker = {"image": "docker:27", "services": ["docker:27-dind"], "variables": {"DOCKER_TLS_CERTDIR": "/certs"}}
    jobs["build-image"] = {
        "stage": "deploy", "needs": ["render-image"], **docker, "rules": [{"if": on_main}], "before_script": [],
        "script": ['echo "$CI_REGISTRY_PASSWORD" | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"',
                   f'docker build -t "{image}" k8s', f'docker push "{image}"']}
    jobs["container-security"] = {
        "stage": "deploy", "needs": ["build-image"], "rules": [{"if": on_main}],
        "allow_failure": True,  # as in the reference pipeline: shown as failed, the pipeline goes on
        "image": {"name": "aquasec/trivy:latest", "entrypoint": [""]}, "before_script": [],
        "variables": {"TRIVY_USERNAME": "$CI_REGISTRY_USER", "TRIVY_PASSWORD": "$CI_REGISTRY_PASSWORD"},
        "script": [f'trivy image --format json --output trivy-report.json "{image}"',
                   f'trivy image --exit-code 1 --severity HIGH,CRITICAL "{image}"'],
        "artifacts": {"when": "always", "paths": ["trivy-report.json"], "expire_in": "1 week"}}
    if plan.kubernetes:  # the cluster's Argo Rollouts runs the canary and its analysis
        jobs["deploy-kubernetes"] = {
            "stage": "deploy", "needs": ["build-image", "render-image", "container-security"], "rules": manual,
            "image": {"name": "bitnami/kubectl:latest", "entrypoint": [""]}, "before_script": [],
            "environment": env("production", production_url), "resource_group": "production",
            "script": ["kubectl apply -f k8s/"]}
    return jobs


def _gate(plan: Plan, stage: str, gitlab_stage: str, needs: list[str], rules: list[dict[str, str]]) -> Job:
    """A gate job: pull the stage's DVC-tracked inputs (if any), run the pipeline up to ``stage``."""
    return {"stage": gitlab_stage, "needs": needs, "rules": rules, "script": p.gate(stage, plan.fetch(stage)),
            "artifacts": _artifacts([".mlgate/", f"{p.REPORTS}/"], f"{p.REPORTS}/{stage}/junit.xml")}


def _artifacts(paths: list[str], junit: str) -> dict[str, Any]:
    return {"when": "always", "paths": paths, "reports": {"junit": junit}, "expire_in": "1 week"}
