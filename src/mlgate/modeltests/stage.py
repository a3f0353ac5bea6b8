"""The pipeline's test stage: the trained candidate against the project's test data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.modeltests.runner import build_checks, build_subject, run_checks

if TYPE_CHECKING:
    from mlgate.context import StageContext
    from mlgate.reports.model import Report


def run_test(ctx: StageContext) -> Report:
    """Run the model checks on the candidate with thresholds from ``gates.test``.

    In a pipeline run the candidate is train's model, judged on the test table with the
    train table as reference; ``mlgate test`` may name another model, data and reference.
    """
    config = ctx.config
    gate = config.gates.test
    checks = build_checks(gate, gate.checks)  # config errors first
    ctx.progress("loading the model", 0.0)
    loaded = ctx.load_candidate()
    data, reference = ctx.test_table(), ctx.reference_table()  # id columns are dropped by load_dataset
    seed = int(loaded.info.get("seed", config.seed))
    subject = build_subject(loaded, data, reference=reference, target=config.data.target,
                            protected=list(config.data.protected), seed=seed)
    return run_checks(subject, checks, ctx.progress, gate.threads)

