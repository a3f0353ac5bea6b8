"""What both CI files run, decided once from the config: commands, install line, matrix, tuning.

The exporters only arrange these facts in each platform's syntax, so a GitLab and a GitHub
pipeline generated from one config run the same commands. Secrets never appear in a
command: ``mlgate smoke``, ``deploy`` and ``canary`` read ``MLGATE_API_KEY`` and
``MLGATE_ADMIN_KEY`` from the environment, MLflow reads ``MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlgate import sources
from mlgate.ci.matrix import CANDIDATES_DIR
from mlgate.deploy.install import job_extras, parse_install
from mlgate.pipeline import STAGE_NAMES, select_stages
from mlgate.reports.merge import MERGED_DIR

if TYPE_CHECKING:
    from mlgate.config import Config

SECRETS = ("MLGATE_API_KEY", "MLGATE_ADMIN_KEY", "MLFLOW_TRACKING_URI")
REPORTS = "mlgate-reports"  # where each job copies its stage's reports, for artifacts and test reports
GATE_STAGES = ("validate", "test", "evaluate", "compare", "register")
# a job cancelled on another runner leaves its deploy lock until deploy.lock_ttl_s (60 s) passes
# without a heartbeat: the next job waits that out instead of failing (docs/deploy.md)
LOCK_WAIT_S = 120
DVC_CACHE = ".dvc/cache/"  # DVC's local cache: kept between pipelines, a pull fetches only what it lacks
_SHARED_SCHEMES = ("postgresql", "postgres", "mysql", "oracle", "mssql")


@dataclass(frozen=True)
class Plan:
    """The jobs' facts, independent of the platform."""

    project: str
    python: str
    install: str  # the install line of every job
    scan_install: str  # the security scan's: with the `security` extra
    branch: str
    schedule: str
    tests: str | None
    candidates: tuple[str, ...]
    tune_in_pipeline: bool
    tune_workers: int  # 1 unless the Optuna storage is a database every job can reach
    tune_trials: int
    stages: tuple[str, ...]  # the pipeline's enabled stages, in order
    environments: tuple[str, ...]
    data_cache: tuple[str, ...]
    min_quality_score: float
    monitor: bool  # monitoring is configured: the scheduled job has something to watch
    kubernetes: bool  # ci.deploy_target is kubernetes: apply the rendered manifests instead of mlgate serve
    # each data-reading stage's shell lines before mlgate (`dvc pull` of exactly its DVC-tracked inputs)
    data_steps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the CI variables each data source needs, by source (docs/data-sources.md), for the file's header
    data_variables: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def fetch(self, stage: str) -> list[str]:
        """The lines a job of ``stage`` runs before mlgate to have its data: none for local files or
        object-storage URIs (read in place), ``dvc pull TARGET...`` for DVC-tracked inputs."""
        return list(self.data_steps.get(stage, ()))

    @property
    def tune_trials_per_worker(self) -> int:
        return math.ceil(self.tune_trials / self.tune_workers)


def make_plan(config: Config) -> Plan:
    """The plan of ``config``'s pipeline."""
    ci = config.ci
    spec, extras = parse_install(ci.install), job_extras(config)
    # DVC-tracked data: every job installs DVC (a job that pulls nothing still checks that absent
    # data could be pulled), with the remote's plugin (dvc[s3]) when the remote needs one
    dvc = sources.dvc_packages(config)
    if dvc:
        extras = extras | {"dvc"}
    plugins = "".join(f" {shlex.quote(d)}" for d in dvc if d != "dvc")
    requirements = f"pip install -r {shlex.quote(ci.requirements)}" if ci.requirements else None
    install = (f"{requirements}{''.join(f' {shlex.quote(d)}' for d in dvc)}" if requirements
               else spec.line(extras) + plugins)
    # the scan reads code and model files, never data: no DVC
    scan_install = f"{requirements} {shlex.quote('mlgate[security]')}" if requirements else \
        spec.line((extras - {"dvc"}) | {"security"})
    storage = config.tune.storage or ""
    shared = storage.split(":", 1)[0].split("+", 1)[0] in _SHARED_SCHEMES
    return Plan(project=config.project, python=ci.python, install=install, scan_install=scan_install,
                branch=ci.branch,
                schedule=ci.schedule, tests=ci.tests, candidates=tuple(m.label for m in config.models),
                tune_in_pipeline=config.tune.enabled, tune_workers=ci.tune_workers if shared else 1,
                tune_trials=config.tune.n_trials, stages=tuple(s.name for s in select_stages(config)),
                environments=tuple(config.environments) or ("staging", "production"),
                data_cache=tuple(dict.fromkeys([*ci.data_cache, *([DVC_CACHE] if dvc else [])])),
                min_quality_score=config.gates.validate_.min_quality_score,
                monitor=config.monitor.enabled, kubernetes=ci.deploy_target == "kubernetes",
                data_steps={stage: tuple(sources.ci_data_steps(config, stage)) for stage in STAGE_NAMES},
                data_variables={k: tuple(v) for k, v in sources.ci_variables(config).items()})


def gate(stage: str, fetch: Sequence[str] = ()) -> list[str]:
    """Fetch the stage's data (``fetch``: ``Plan.fetch(stage)``), run the pipeline up to ``stage``
    (earlier stages are cached in the artifact) and copy its reports.

    The reports are copied whatever the verdict, then the job exits with the run's code, so a
    failed gate's job still carries junit.xml, report.json, summary.md and report.html. A failed
    pull fails the job before mlgate runs.
    """
    return [*fetch, *keep_reports([f"mlgate run --until {stage}", publish(stage)])]


def keep_reports(lines: list[str]) -> list[str]:
    """A command and its publishing lines, run so that a failing command's reports are published too."""
    head, *rest = lines
    return [f"{head} || status=$?", *rest, 'exit "${status:-0}"']


def production_tests(url: str) -> list[str]:
    """The smoke suite against production after the canary's promotion."""
    return [f"mlgate smoke --url {url} --output {REPORTS}/smoke"]


def publish(stage: str) -> str:
    """Copy the latest run's reports of ``stage`` to mlgate-reports/ (artifacts keep no symlinks)."""
    return (f'mkdir -p {REPORTS} && cp -r ".mlgate/runs/$(cat .mlgate/runs/LATEST)/{stage}" '
            f"{REPORTS}/ 2>/dev/null || true")


def train_candidate(variable: str, fetch: Sequence[str] = ()) -> list[str]:
    """One job of the train matrix; ``variable`` holds the candidate's name, ``fetch`` pulls train's data."""
    out = f'{CANDIDATES_DIR}/"{variable}"'
    return [*fetch, f'mlgate train --candidate "{variable}" --output {out}',
            f'mkdir -p {REPORTS}/candidates && cp -r {out} {REPORTS}/candidates/']


def pick_best() -> list[str]:
    """Assemble train from the candidates' folders: no data is fetched (the stage's key takes the
    data's fingerprint from DVC's records, and the pick reads only the candidates' outputs)."""
    return keep_reports([f"mlgate train --pick-best {CANDIDATES_DIR}", publish("train")])


def tune_worker(plan: Plan) -> list[str]:
    """The manual search job: trials on the configured Optuna study (shared when fanned out)."""
    out = f"{REPORTS}/tune"
    trials = plan.tune_trials_per_worker
    return [*plan.fetch("tune"), f"mlgate tune --n-trials {trials} --output {out}"]


def file_check(platform: str) -> list[str]:
    """Fail when the committed CI file is not what mlgate.yaml generates (edited by hand, or stale)."""
    return [f"mlgate ci {platform} --check"]


def scan() -> list[str]:
    return [f"mlgate scan --output {REPORTS}/scan"]


def deploy(env: str, strategy: str | None = None) -> list[str]:
    """Deploy the staged version to ``env``; the report goes straight into the artifact path."""
    cmd = f"mlgate deploy --env {env}" + (f" --strategy {strategy}" if strategy else "")
    return [f"{cmd} --lock-wait {LOCK_WAIT_S} --output {REPORTS}/deploy-{env}"]


def canary(env: str = "production") -> list[str]:
    """Start the canary and hold until the analysis promotes it to production (exit 0) or rolls it
    back, or ``deploy.canary.max_wait_s`` passes without a decision (rolled back; exit 1)."""
    return [f"mlgate deploy --env {env} --strategy canary --wait --lock-wait {LOCK_WAIT_S} "
            f"--output {REPORTS}/canary-{env}"]


def monitor(fetch: Sequence[str] = ()) -> list[str]:
    """The scheduled drift job; ``fetch`` pulls its DVC-tracked reference, current data or labels."""
    return [*fetch, f"mlgate monitor --output {REPORTS}/monitor"]


MERGED = MERGED_DIR  # the folder `mlgate report` writes by default, in CI as on a laptop


def report(post: bool) -> list[str]:
    """The stage reports the job gathered from the artifacts, merged (and posted to the MR/PR)."""
    return [f"mlgate report {REPORTS} --output {MERGED}" + (" --post-if-possible" if post else "")]


# The version this pipeline registered; empty when register did not run (a production dispatch
# without a retrain), and then deploy's own default (staging's version) is rendered.
REGISTERED_VERSION = (f"version=\"$(python -c \"import json, os; p = '{REPORTS}/register/report.json'; "
                      "print(json.load(open(p))['metrics']['version'] if os.path.exists(p) else '')\")\"")


def render_k8s(image: str, folder: str = "k8s") -> list[str]:
    """The Dockerfile and manifests of the model server for the built image and the registered
    version (docs/kubernetes.md)."""
    return [REGISTERED_VERSION,
            f'mlgate deploy --target kubernetes --render {folder} --image "{image}" ${{version:+--version "$version"}}']
