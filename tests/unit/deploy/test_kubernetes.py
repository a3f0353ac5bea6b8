"""Kubernetes rendering: every file validated offline (Kubernetes schemas, Argo Rollouts CRD subset)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.config import Config, config_from_dict
from mlgate.deploy.kubernetes import dashboard_json, render
from mlgate.errors import UsageError
from mlgate.examples.churn import CONFIG_TEMPLATE

HERE = Path(__file__).parent
ARGO = json.loads((HERE / "argo_rollouts_schema.json").read_text())


def _config(tmp_path: Path, **extra: Any) -> Config:
    raw = yaml.safe_load(CONFIG_TEMPLATE.read_text())
    raw.update(extra)
    return config_from_dict(raw, tmp_path)


@pytest.fixture
def rendered(tmp_path: Path) -> dict[str, Path]:
    paths = render(_config(tmp_path), tmp_path / "k8s", image="ghcr.io/acme/churn:abc", model_uri="models:/churn/3")
    return {p.name: p for p in paths}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_render_writes_every_file(rendered: dict[str, Path]) -> None:
    assert set(rendered) == {"Dockerfile", "deployment.yaml", "service.yaml", "hpa.yaml", "rollout.yaml",
                             "analysis-template.yaml", "grafana-dashboard.json"}


@pytest.mark.parametrize("name", ["deployment.yaml", "service.yaml", "hpa.yaml"])
def test_manifests_pass_the_kubernetes_schemas_strictly(name: str, rendered: dict[str, Path]) -> None:
    import kubernetes_validate

    for doc in _docs(rendered[name]):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_kubernetes_validator_is_not_a_rubber_stamp(rendered: dict[str, Path]) -> None:
    import kubernetes_validate

    [doc] = _docs(rendered["deployment.yaml"])
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize(("name", "kind"), [("rollout.yaml", "Rollout"),
                                            ("analysis-template.yaml", "AnalysisTemplate")])
def test_argo_resources_pass_the_vendored_crd_schema(name: str, kind: str, rendered: dict[str, Path]) -> None:
    import jsonschema

    [doc] = _docs(rendered[name])
    assert doc["kind"] == kind
    jsonschema.validate(doc, ARGO[kind])
    broken = json.loads(json.dumps(doc))
    broken["spec"]["strategy" if kind == "Rollout" else "metrics"] = {"canary": {"stepz": []}} \
        if kind == "Rollout" else [{"name": "x"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ARGO[kind])


def test_deployment_probes_resources_and_non_root(rendered: dict[str, Path]) -> None:
    [doc] = _docs(rendered["deployment.yaml"])
    pod = doc["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["image"] == "ghcr.io/acme/churn:abc"
    env = {e["name"]: e for e in container["env"]}
    assert env["MLGATE_MODEL_URI"]["value"] == "models:/churn/3"
    assert "value" not in env["MLGATE_ADMIN_KEY"] and "secretKeyRef" in env["MLGATE_ADMIN_KEY"]["valueFrom"]


def test_dockerfile_non_root_healthcheck_and_fetch_at_start(rendered: dict[str, Path]) -> None:
    text = rendered["Dockerfile"].read_text()
    assert "USER 10001" in text and "useradd" in text
    assert re.search(r"HEALTHCHECK .*\n.*/health", text)
    assert "pip install --no-cache-dir 'mlgate==" in text
    assert 'ENV MLGATE_MODEL_URI="models:/churn/3"' in text
    assert text.index("USER 10001") < text.index("CMD [")


def test_a_local_model_folder_is_baked_in(tmp_path: Path) -> None:
    model = tmp_path / "model-folder"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    paths = render(_config(tmp_path), tmp_path / "k8s", model_uri="model-folder")
    assert (tmp_path / "k8s" / "model" / "MLmodel").exists() and tmp_path / "k8s" / "model" in paths
    text = (tmp_path / "k8s" / "Dockerfile").read_text()
    assert "COPY --chown=10001:10001 model/ /app/model/" in text and 'MLGATE_MODEL_URI="/app/model"' in text


def test_rollout_steps_follow_the_config_and_default(tmp_path: Path, rendered: dict[str, Path]) -> None:
    [doc] = _docs(rendered["rollout.yaml"])
    weights = [s["setWeight"] for s in doc["spec"]["strategy"]["canary"]["steps"] if "setWeight" in s]
    assert weights == [10, 25, 50, 100]
    assert doc["spec"]["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "churn-production", "scaleDown": "progressively"}
    config = _config(tmp_path, deploy={"canary": {"steps": [5, 20, 100]}})
    render(config, tmp_path / "k2", model_uri="models:/churn/4")
    [doc] = _docs(tmp_path / "k2" / "rollout.yaml")
    steps = doc["spec"]["strategy"]["canary"]["steps"]
    assert [s["setWeight"] for s in steps if "setWeight" in s] == [5, 20, 100]
    assert steps[1]["analysis"]["args"] == [{"name": "model-version", "value": "4"}]
    [hpa] = _docs(tmp_path / "k2" / "hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"


def test_without_rollout_the_hpa_targets_the_deployment(tmp_path: Path) -> None:
    paths = render(_config(tmp_path), tmp_path / "k8s", rollout=False)
    assert "rollout.yaml" not in {p.name for p in paths}
    [hpa] = _docs(tmp_path / "k8s" / "hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn-production"}


def _server_metric_names() -> set[str]:
    """Every sample name the server exports (rendered by the server's own metrics object)."""
    from mlgate.serve.metrics import ServerMetrics

    metrics = ServerMetrics("3")
    metrics.answered("predict", 1, 0.01)
    text = metrics.render()[0].decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def _queried(queries: list[str]) -> set[str]:
    return {name for q in queries for name in re.findall(r"\b(ml_[a-z_]+)\b", q)}


def test_analysis_and_dashboard_query_only_metrics_the_server_exports(rendered: dict[str, Path]) -> None:
    exported = _server_metric_names()
    [template] = _docs(rendered["analysis-template.yaml"])
    analysis = [m["provider"]["prometheus"]["query"] for m in template["spec"]["metrics"]]
    panels = json.loads(rendered["grafana-dashboard.json"].read_text())["panels"]
    dashboard = [t["expr"] for p in panels for t in p["targets"]]
    assert _queried(analysis) and _queried(analysis) <= exported
    assert _queried(dashboard) <= exported
    assert {"ml_prediction_requests_total", "ml_predictions_total", "ml_prediction_latency_seconds_bucket",
            "ml_requests_rejected_total"} <= _queried(dashboard)


def test_dashboard_panels_traffic_latency_errors_rejections_by_version_and_slot() -> None:
    doc = json.loads(dashboard_json())
    titles = " | ".join(p["title"] for p in doc["panels"])
    for word in ("Traffic", "Latency quantiles", "Errors", "Rejected"):
        assert word in titles
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    assert all("model_version" in e and "slot" in e for e in exprs)
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(e.startswith(f"histogram_quantile({quantile}, ") and "latency" in e for e in exprs)
    assert {v["name"] for v in doc["templating"]["list"]} == {"datasource", "model_version", "slot"}


def test_bad_inputs_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="neither a URI .* nor an existing model folder"):
        render(_config(tmp_path), tmp_path / "k8s", model_uri="no/such/folder")
    with pytest.raises(UsageError, match="replicas must be at least 1"):
        render(_config(tmp_path), tmp_path / "k8s", replicas=0)
    assert not (tmp_path / "k8s").exists()


def test_version_pins_the_model_uri_and_the_analysis_arg(tmp_path: Path) -> None:
    render(_config(tmp_path), tmp_path / "k8s", env="staging", version="7")
    [doc] = _docs(tmp_path / "k8s" / "deployment.yaml")
    assert doc["metadata"]["name"] == "churn-staging"
    env = {e["name"]: e for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLGATE_MODEL_URI"]["value"] == "models:/churn/7"
    assert '{name: model-version, value: "7"}' in (tmp_path / "k8s" / "rollout.yaml").read_text()


def test_apply_runs_kubectl_on_the_manifests_and_says_when_it_is_missing(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgate.deploy.kubernetes import apply_manifests

    render(_config(tmp_path), tmp_path / "k8s")
    # no cluster here: a stand-in kubectl that records its arguments, as the real one would take them
    log = tmp_path / "kubectl.args"
    fake = tmp_path / "bin" / "kubectl"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {log}\necho applied\n')
    fake.chmod(0o755)
    assert apply_manifests(tmp_path / "k8s", str(fake)).strip() == "applied"
    args = log.read_text().split()
    assert args[0] == "apply" and sorted(Path(a).name for a in args[2::2]) == sorted(
        ["analysis-template.yaml", "deployment.yaml", "hpa.yaml", "rollout.yaml", "service.yaml"])
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(UsageError, match="--apply needs kubectl, which is not on PATH"):
        apply_manifests(tmp_path / "k8s")
