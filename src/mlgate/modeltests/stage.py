"""The pipeline's test stage: the trained candidate against the project's test data."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.context import StageContext
    from mlgate.reports.model import Report


def run_test(ctx: StageContext) -> Report:
    """Run the model checks on ``train``'s model with thresholds from ``gates.test``."""
    from mlgate.models import load_model
    from mlgate.modeltests.runner import as_loaded, build_checks, build_subject, run_checks

    config = ctx.config
    checks = build_checks(config.gates.test, config.gates.test.checks)  # config errors first
    ctx.progress("loading the model", 0.0)
    loaded = as_loaded(load_model(ctx.upstream_dir("train") / "model", config))
    if config.task and not loaded.info.get("task"):
        loaded.info["task"] = config.task
    data = ctx.dataset()  # id columns are already dropped by load_dataset
    subject = build_subject(loaded, data.test, reference=data.train, target=data.target,
                            protected=list(config.data.protected),
                            seed=loaded.info.get("seed", config.seed))
    return run_checks(subject, checks, ctx.progress)
