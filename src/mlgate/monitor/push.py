"""Drift gauges sent to a Prometheus Pushgateway (prometheus-client's ``push_to_gateway``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.errors import UsageError

if TYPE_CHECKING:
    from mlgate.monitor.drift import DriftResult
    from mlgate.monitor.performance import Decay
    from mlgate.monitor.profile import TableProfile

JOB = "mlgate_monitor"


def push_drift(url: str, result: DriftResult, decay: Decay | None, reference: TableProfile,
               job: str = JOB, timeout: float = 10.0) -> dict[str, Any]:
    """Push one registry of gauges (replacing the job's previous push); return what was sent."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    labels = ["column", "role", "method"]
    effect = Gauge("mlgate_drift_effect", "Drift effect size on the method's scale", labels, registry=registry)
    stat = Gauge("mlgate_drift_statistic", "Drift test statistic", labels, registry=registry)
    pval = Gauge("mlgate_drift_p_value", "Drift p-value adjusted across the columns (NaN: a distance)", labels,
                 registry=registry)
    drifted = Gauge("mlgate_drift_detected", "1 when the column drifted (significant and material)", labels,
                    registry=registry)
    share = Gauge("mlgate_dataset_drift_share", "Share of features that drifted", registry=registry)
    dataset = Gauge("mlgate_dataset_drift", "1 when the drift share passed its limit", registry=registry)
    for col in result.columns:
        key = (col.column, col.role, col.method)
        cmp = col.decision.comparison
        effect.labels(*key).set(float("nan") if cmp is None else cmp.effect)
        stat.labels(*key).set(float("nan") if cmp is None else cmp.statistic)
        adjusted = col.decision.adjusted_p
        pval.labels(*key).set(float("nan") if adjusted is None else adjusted)
        drifted.labels(*key).set(1.0 if col.drifted else 0.0)
    share.set(result.drift_share)
    dataset.set(1.0 if result.dataset_drift else 0.0)
    if decay is not None:
        perf = Gauge("mlgate_live_metric", "The latest window's metric", ["metric"], registry=registry)
        perf.labels(decay.latest.metric).set(decay.latest.value)
    grouping = {"model": str(reference.meta.get("model") or "reference")}
    try:
        push_to_gateway(url, job=job, registry=registry, grouping_key=grouping, timeout=timeout)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--push {url}: the Pushgateway did not take the metrics ({exc}); "
                         "check the URL (e.g. http://pushgateway:9091)") from exc
    return {"url": url, "job": job, "grouping": grouping, "series": len(result.columns) * 4 + 2}
