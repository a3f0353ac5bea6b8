"""Kubernetes rendering of the model server: Dockerfile, manifests, Argo Rollouts canary, Grafana.

``render(config, out_dir)`` writes, from Jinja2 templates shipped in ``deploy/templates``:

    Dockerfile                the server image: non-root user, HEALTHCHECK, the model fetched
                              by URI at start (MLFLOW_TRACKING_URI from a Secret), or baked in
                              when ``model_uri`` is a local model folder (copied to ./model)
    deployment.yaml           Deployment: startup/liveness probes on /health, readiness on
                              /ready, resources, read-only root, Prometheus scrape annotations
    service.yaml              ClusterIP Service, port 80 to the container's http port
    hpa.yaml                  HorizontalPodAutoscaler (autoscaling/v2) on CPU; it targets the
                              Rollout when one is rendered, else the Deployment
    rollout.yaml              Argo Rollouts Rollout over the Deployment (workloadRef), canary
                              steps from ``deploy.canary.steps`` with an analysis after each
    analysis-template.yaml    AnalysisTemplate: error rate, p95 latency and rejected share of
                              the canary's version against the others, from Prometheus
    grafana-dashboard.json    the dashboard shipped with mlgate (traffic, latency quantiles,
                              errors, rejections, per version and slot)

``kubectl apply -f DIR`` applies them (``mlgate deploy --target kubernetes --apply``); the
Secrets named in the manifests (``<name>-secrets``, ``<name>-api-keys``) are the user's to
create, so no secret ever sits in a rendered file.
"""

from __future__ import annotations

import json
import re
import shutil
import shutil as sh
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__
from mlgate._paths import write_text
from mlgate.deploy.install import job_extras, parse_install
from mlgate.errors import UsageError
from mlgate.security.folders import inside_links_only

if TYPE_CHECKING:
    import jinja2

    from mlgate.config import Config

PORT = 8000
UID = 10001
KEYS_DIR = "/etc/mlgate/api-keys"
DEFAULT_STEPS = (10.0, 25.0, 50.0, 100.0)
DASHBOARD = "grafana-dashboard.json"
MANIFESTS = ("deployment.yaml", "service.yaml", "hpa.yaml")
ROLLOUT_FILES = ("rollout.yaml", "analysis-template.yaml")
_WINDOW = "2m"


@dataclass(frozen=True)
class Resources:
    """Container requests and limits; one model thread per worker, so CPU scales with workers."""

    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"

    def as_dict(self, workers: int) -> dict[str, dict[str, str]]:
        cpu = self.cpu_limit if workers <= 1 else str(workers)
        return {"requests": {"cpu": self.cpu_request, "memory": self.memory_request},
                "limits": {"cpu": cpu, "memory": self.memory_limit}}


def render(config: Config, out_dir: Path, *, image: str | None = None, model_uri: str | None = None,
           env: str = "production", version: str | None = None, apply: bool = False,
           namespace: str | None = None, replicas: int = 2, max_replicas: int = 10,
           model_version: str | None = None, rollout: bool = True,
           prometheus: str = "http://prometheus.monitoring.svc:9090",
           limits: Resources | None = None) -> list[Path]:
    """Write the Dockerfile, manifests and dashboard into ``out_dir``; return the written paths.

    The model is ``model_uri``, else registry ``version`` (``models:/NAME/V``), else the alias of
    environment ``env`` (``models:/NAME@production``). ``apply`` runs ``kubectl apply -f out_dir``.
    """
    if replicas < 1 or max_replicas < replicas:
        raise UsageError(f"replicas must be at least 1 and max_replicas at least replicas "
                         f"(got {replicas} and {max_replicas})")
    uri = model_uri or (f"models:/{config.model_name}/{version}" if version else _default_uri(config, env))
    baked = _local_model(config, uri)
    name = _dns_name(f"{config.project}-{env}")
    context = _context(config, out_dir, name, namespace, image, uri, baked, replicas, max_replicas,
                       model_version, rollout, prometheus, limits or Resources())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if baked is not None:
        target = out_dir / "model"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(inside_links_only(baked), target)  # a link out of the folder is refused, not followed
        written.append(target)
    if config.ci.requirements:  # the image installs what the project pins
        source = config.resolve(config.ci.requirements)
        if not source.is_file():
            raise UsageError(f"ci.requirements is {config.ci.requirements!r}, but {source} does not exist")
        shutil.copy2(source, out_dir / source.name)
    files = [("Dockerfile.j2", "Dockerfile"), *((f"{m}.j2", m) for m in MANIFESTS)]
    if rollout:
        files += [(f"{m}.j2", m) for m in ROLLOUT_FILES]
    for template, target_name in files:
        written.append(_write(out_dir / target_name, _env().get_template(template).render(**context)))
    written.append(_write(out_dir / DASHBOARD, dashboard_json()))
    if apply:
        apply_manifests(out_dir)
    return written


def apply_manifests(folder: Path, kubectl: str | None = None) -> str:
    """``kubectl apply -f folder`` (its YAML files; the dashboard and Dockerfile are not resources)."""
    tool = kubectl or sh.which("kubectl")
    if tool is None:
        raise UsageError("--apply needs kubectl, which is not on PATH: install it "
                         "(https://kubernetes.io/docs/tasks/tools/) or apply the files yourself: "
                         f"kubectl apply -f {folder}")
    files = [str(p) for p in sorted(folder.glob("*.yaml"))]
    args = [tool, "apply"] + [a for f in files for a in ("-f", f)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise UsageError(f"kubectl apply -f {folder} failed (exit {out.returncode}): "
                         f"{(out.stderr or out.stdout).strip()[-600:]}")
    return out.stdout


def dashboard_json() -> str:
    """The Grafana dashboard shipped with mlgate."""
    return resources.files("mlgate").joinpath("deploy", "templates", DASHBOARD).read_text(encoding="utf-8")


def canary_weights(config: Config) -> list[int]:
    """``deploy.canary.steps`` as whole percents (10/25/50/100 when the config has none)."""
    deploy = getattr(config, "deploy", None)
    steps = getattr(getattr(deploy, "canary", None), "steps", None) or DEFAULT_STEPS
    return [max(1, round(float(s))) for s in steps]


def analysis_metrics(config: Config) -> list[dict[str, str]]:
    """The AnalysisTemplate's metrics: canary version against the rest, bounds from the config."""
    canary = getattr(getattr(config, "deploy", None), "canary", None)
    error_bound = getattr(getattr(canary, "error_rate", None), "material", 0.01)
    p95_ms = getattr(getattr(config, "deploy", None), "max_p95_ms", 500.0)
    mine, others = 'model_version="{{args.model-version}}"', 'model_version!="{{args.model-version}}"'

    def share(reason: str, where: str) -> str:
        bad = f'sum(rate(ml_requests_rejected_total{{{where},reason=~"{reason}"}}[{_WINDOW}]))'
        good = f"sum(rate(ml_prediction_requests_total{{{where}}}[{_WINDOW}]))"
        return f"({bad} / clamp_min({good} + {bad}, 1e-9))"

    def bounded(bound: float) -> str:
        return f"len(result) > 0 && !isNaN(result[0]) && result[0] <= {bound:g}"

    latency = (f"histogram_quantile(0.95, sum by (le) (rate(ml_prediction_latency_seconds_bucket{{{mine}}}"
               f"[{_WINDOW}])))")
    rejected = "invalid_input|malformed_json|body_too_large"
    return [
        {"name": "error-rate-increase", "query": f"{share('model_error', mine)} - {share('model_error', others)}",
         "condition": bounded(error_bound)},
        {"name": "latency-p95-seconds", "query": latency, "condition": bounded(p95_ms / 1000.0)},
        {"name": "rejected-share-increase", "query": f"{share(rejected, mine)} - {share(rejected, others)}",
         "condition": bounded(0.05)},
    ]


def _context(config: Config, out_dir: Path, name: str, namespace: str | None, image: str | None, uri: str,
             baked: Path | None, replicas: int, max_replicas: int, model_version: str | None, rollout: bool,
             prometheus: str, res: Resources) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": _dns_name(config.project),
              "app.kubernetes.io/managed-by": "mlgate"}
    interval = getattr(getattr(getattr(config, "deploy", None), "canary", None), "interval_s", 30.0)
    return {
        "project": config.project, "version": __version__, "python": config.ci.python, "uid": UID, "port": PORT,
        "install": _install_target(config),
        "requirements": Path(config.ci.requirements).name if config.ci.requirements else None,
        "baked": baked is not None, "model_uri": "/app/model" if baked is not None else uri,
        "workers": config.serve.workers, "keys_dir": KEYS_DIR, "keys_file": f"{KEYS_DIR}/hashes",
        "context_hint": str(out_dir), "name": name, "namespace": namespace, "labels": labels,
        "selector": {"app.kubernetes.io/name": name}, "replicas": replicas, "min_replicas": replicas,
        "max_replicas": max_replicas, "image": image or f"{_dns_name(config.project)}-server:{__version__}",
        "secret": f"{name}-secrets", "keys_secret": f"{name}-api-keys",
        "resources": res.as_dict(config.serve.workers),
        "target_api": "argoproj.io/v1alpha1" if rollout else "apps/v1",
        "target_kind": "Rollout" if rollout else "Deployment",
        "weights": canary_weights(config), "analysis_name": f"{name}-canary",
        "model_version": model_version or _version_of(uri), "metrics": analysis_metrics(config),
        "interval": f"{max(1, round(interval))}s", "count": 5, "prometheus": prometheus,
    }


def _install_target(config: Config) -> str:
    """What the image's pip installs: ``ci.install`` (the CI jobs' source of mlgate) with its extras."""
    return parse_install(config.ci.install).target(job_extras(config))


@cache
def _env() -> jinja2.Environment:
    import jinja2

    # YAML and Dockerfiles: values go through `q` (a JSON scalar or mapping is YAML), never HTML-escaped;
    # bandit B701 is silenced below: no HTML is rendered here, and HTML escaping would corrupt the manifests
    env = jinja2.Environment(loader=jinja2.PackageLoader("mlgate", "deploy/templates"), autoescape=False,  # nosec B701
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["q"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def _default_uri(config: Config, environment: str) -> str:
    env = config.environments.get(environment)
    alias = (env.alias if env and env.alias else None) or environment
    return f"models:/{config.model_name}@{alias}"


def _local_model(config: Config, uri: str) -> Path | None:
    """The folder to bake in when ``uri`` is a local MLflow model folder, else None (fetched at start)."""
    if ":" in uri.split("/", 1)[0]:  # a scheme such as models:/, runs:/, s3://
        return None
    folder = config.resolve(uri)
    if not folder.exists():
        raise UsageError(f"--model-uri {uri!r} is neither a URI (models:/NAME@ALIAS, runs:/...) nor an "
                         f"existing model folder ({folder} does not exist)")
    if not (folder / "MLmodel").exists():
        raise UsageError(f"{folder} is not an MLflow model folder (no MLmodel file); give the folder "
                         "`mlgate train` wrote or a models:/ URI")
    return folder


def _version_of(uri: str) -> str:
    """``models:/churn/3`` -> ``3``; an alias URI has no fixed version (pass model_version)."""
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return tail if uri.startswith("models:/") and tail.isdigit() else "unknown"


def _dns_name(text: str) -> str:
    """A DNS-1123 label: lower case, digits and '-', at most 63 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    if not name:
        raise UsageError(f"cannot make a Kubernetes name from {text!r}; set `project` to letters and digits")
    return name


def _write(path: Path, text: str) -> Path:
    write_text(path, text)
    return path
