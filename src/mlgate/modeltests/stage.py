"""The pipeline's test stage: the trained candidate against the project's test data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.context import StageContext
    from mlgate.reports.model import Report


def run_test(ctx: StageContext) -> Report:
    """Run the model checks on the candidate with thresholds from ``gates.test``.

    In a pipeline run the candidate is train's model, judged on the test table with the
    train table as reference; ``mlgate test`` may name another model, data and reference.
    """
    from mlgate.modeltests.runner import build_checks, build_subject, run_checks

    config = ctx.config
    gate = config.gates.test
    checks = build_checks(gate, gate.checks)  # config errors first
    ctx.progress("loading the model", 0.0)
    loaded = ctx.load_candidate()
    data, reference = ctx.test_table(), ctx.reference_table()  # id columns are dropped by load_dataset
    seed = int(loaded.info.get("seed", config.seed))
    fit_rows = None
    if ctx.candidate_from_pipeline and ctx.reference_data is None and reference is not None:
        fit_rows = _fit_rows(loaded.info, reference, config.data.target, seed)
    subject = build_subject(loaded, data, reference=reference, target=config.data.target,
                            protected=list(config.data.protected), seed=seed, fit_rows=fit_rows)
    return run_checks(subject, checks, ctx.progress, gate.threads)


def _fit_rows(info: dict[str, Any], train: pd.DataFrame, target: str, seed: int) -> pd.DataFrame | None:
    """The train rows the model was fitted on when training held some out for validation.

    The train stage fits on the train table minus a seeded validation split and does not
    refit, so retraining on all of it would differ for a reason that is not a
    reproducibility problem; the same split is redrawn here.
    """
    trained_on = info.get("trained_on") or {}
    if not trained_on.get("validation_rows"):
        return None
    from mlgate.train.training import validation_split

    rows = train.dropna(subset=[target])
    fit, _ = validation_split(rows, target, str(info.get("task", "binary")), seed,
                              fraction=float(trained_on.get("validation_fraction", 0.2)))
    if len(fit) != trained_on.get("rows", len(fit)):
        return None  # not the split the model saw; fall back to the whole reference
    return fit
