"""Prometheus metrics of the server, labelled by model version and slot.

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by the runner) makes each worker
write its samples to files that ``/metrics`` aggregates, so a scrape sees all workers.
"""

from __future__ import annotations

import copy
import os
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REJECT_REASONS = ("unauthorized", "rate_limited", "body_too_large", "malformed_json",
                  "invalid_input", "unsupported_media_type", "model_error", "no_version")


class ServerMetrics:
    """The counters and histogram the server updates; children are bound once for speed."""

    def __init__(self, version: str, slot: str = "stable") -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        labels = ("model_version", "slot")
        self._predictions = Counter("ml_predictions", "Rows predicted.", labels, registry=self.registry)
        self._requests = Counter("ml_prediction_requests", "Prediction requests answered with 200.",
                                 (*labels, "endpoint"), registry=self.registry)
        self._latency = Histogram("ml_prediction_latency_seconds",
                                  "Time to answer a prediction request, from receipt to response.",
                                  labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self._batch = Histogram("ml_batch_rows", "Rows per model call after micro-batching.",
                                labels, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
                                registry=self.registry)
        self._ignored = Counter("ml_ignored_columns", "Input columns /invocations dropped because the "
                                "model does not use them (as MLflow's server does), per request.",
                                labels, registry=self.registry)
        self._rejected = Counter("ml_requests_rejected", "Requests refused before or instead of a "
                                 "prediction, by reason.", (*labels, "reason"), registry=self.registry)
        # per process, not per slot: the logs are the server's
        dropped = Counter("ml_log_lines_dropped", "Log lines not written because the log writer's "
                          "queue was full (the request was answered; only its log line is missing).",
                          ("log",), registry=self.registry)
        self.log_dropped = {log: dropped.labels(log) for log in ("access", "prediction")}
        self._bind(version, slot)

    def _bind(self, version: str, slot: str) -> None:
        self.version, self.slot = version, slot
        self.predictions = self._predictions.labels(version, slot)
        self.latency = self._latency.labels(version, slot)
        self.batch_rows = self._batch.labels(version, slot)
        self.ignored_columns = self._ignored.labels(version, slot)
        self._request_children = {e: self._requests.labels(version, slot, e)
                                  for e in ("predict", "invocations")}
        # Every reason is exported from the start, at 0, so dashboards and the smoke suite
        # see the metric names before the first rejection.
        self.rejected = {r: self._rejected.labels(version, slot, r) for r in REJECT_REASONS}

    def bound(self, version: str, slot: str) -> ServerMetrics:
        """A view on the same registry whose samples carry another version and slot (one per slot)."""
        view = copy.copy(self)
        view._bind(version, slot)
        return view

    def answered(self, endpoint: str, rows: int, seconds: float) -> None:
        """Count a successful prediction request."""
        self._request_children[endpoint].inc()
        self.predictions.inc(rows)
        self.latency.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry: Any = self.registry
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
