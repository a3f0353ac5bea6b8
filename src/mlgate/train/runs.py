"""MLflow runs for training candidates and tuning trials, logged in batches (one call each).

Runs are written through ``MlflowClient`` rather than the fluent API so candidate runs,
the tuning parent run and its nested trial runs never depend on a global "active run".
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from mlgate.tracking import experiment_id, lineage_tags, setup_mlflow

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config

MAX_PARAM_CHARS = 500  # MLflow's historic limit; newer stores allow more
PROCESS_TAG = "mlgate.process"  # the mlgate process (pid and start) that created the run


class RunLogger:
    """Creates runs in one experiment with the same base tags (commit, CI job, stage)."""

    def __init__(self, client: MlflowClient, experiment_id: str, tags: dict[str, str]) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.tags = dict(tags)
        self.open: list[str] = []  # started and not ended: abandon() closes them
        # every run this logger creates carries it, so abandon() also finds a run that MLflow
        # created but an interrupt kept from reaching ``open`` (inside create_run)
        self.process = f"{os.getpid()}-{time.time_ns()}"

    def start(self, name: str, tags: dict[str, str] | None = None, parent: str | None = None) -> str:
        """Create a run; with ``parent`` it is nested under that run in the MLflow UI."""
        all_tags = {**self.tags, **(tags or {}), PROCESS_TAG: self.process}
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        self.open.append(str(run.info.run_id))
        return str(run.info.run_id)

    def log(self, run_id: str, params: dict[str, Any] | None = None,
            metrics: dict[str, float] | None = None, tags: dict[str, str] | None = None) -> None:
        """Params, metrics and tags of a run in one batch."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if _finite(v)],
            params=[Param(k, param_text(v)) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )

    def end(self, run_id: str, ok: bool = True) -> None:
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")
        if run_id in self.open:
            self.open.remove(run_id)

    def abandon(self, exc: BaseException) -> None:
        """End every run still open after ``exc`` stopped the work: KILLED on an interrupt or
        cancel (SIGTERM unwinds as one), FAILED otherwise; never left RUNNING in the UI."""
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        for run_id in reversed(self.open):
            self.client.set_terminated(run_id, status)
        self.open.clear()
        for run in self.client.search_runs(
                [self.experiment_id], f"tags.`{PROCESS_TAG}` = '{self.process}' and attributes.status = 'RUNNING'"):
            self.client.set_terminated(run.info.run_id, status)


def open_logger(config: Config, tags: dict[str, str]) -> RunLogger:
    """A RunLogger on the project's store, with commit and CI tags on every run."""
    client = setup_mlflow(config)
    return RunLogger(client, experiment_id(config, client), {**lineage_tags(config.root), **tags})


def param_text(value: Any) -> str:
    """A parameter value as MLflow stores it: text, JSON for containers, truncated."""
    text = json.dumps(value, default=str) if isinstance(value, dict | list | tuple) else str(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."


def _finite(value: Any) -> bool:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    return v == v and v not in (float("inf"), float("-inf"))
