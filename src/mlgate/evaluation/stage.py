"""The evaluate and compare stages: ``run_evaluate(ctx)`` and ``run_compare(ctx)``, each a Report.

In a pipeline run the candidate is train's model and the rows are the project's test table;
``mlgate evaluate`` and ``mlgate compare`` run the same functions on a context from
``mlgate.context.standalone_context`` (``--model``, ``--data``, ``--baseline``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mlgate.evaluation import evaluate_model
from mlgate.evaluation.baseline import compare_with, find_baseline
from mlgate.models import load_model
from mlgate.reports.model import Check, Report

if TYPE_CHECKING:
    from mlgate.config import Config, EvaluateGate
    from mlgate.context import StageContext
    from mlgate.models import LoadedModel


def run_evaluate(ctx: StageContext) -> Report:
    """Evaluate the candidate on the test rows; write metrics.json."""
    t0 = time.perf_counter()
    ctx.progress("loading the model and test rows", 0.1)
    model = ctx.load_candidate()
    frame = ctx.test_table()
    baseline, note = _business_baseline(ctx.config)
    ctx.progress(f"bootstrapping {ctx.config.gates.evaluate.bootstrap} resamples", 0.3)
    report, result = evaluate_model(model, frame, ctx.config.data.target, gate_with_slices(ctx.config),
                                    task=ctx.config.task, seed=ctx.config.seed,
                                    id_columns=ctx.config.data.id_columns, business=ctx.config.business,
                                    baseline=baseline)
    if note:
        report.add(Check(name="business_baseline", passed=True, severity="info", message=note))
    result.write(ctx.out_dir)
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def _business_baseline(config: Config) -> tuple[LoadedModel | None, str]:
    """The production model when ``business.baseline`` is production, else None (and why, for the report)."""
    if config.business.baseline != "production" or not config.business.enabled:
        return None, ""

    baseline, note = find_baseline(config)
    if baseline is None:
        return None, f"business savings against the constant answer: {note.split(':')[0]}"
    return baseline, f"business savings against {note}"


def gate_with_slices(config: Config) -> EvaluateGate:
    """The evaluate gate, slicing by the protected attributes when no slices are configured."""
    gate = config.gates.evaluate
    if gate.slices or not config.data.protected:
        return gate
    return gate.model_copy(update={"slices": list(config.data.protected)})


def run_compare(ctx: StageContext) -> Report:
    """Compare the candidate with ``--baseline`` or the production alias on the test rows; write decision.json."""
    ctx.progress("looking up the production model", 0.1)
    baseline: LoadedModel | None
    if ctx.baseline:
        baseline, note = load_model(ctx.baseline, ctx.config), f"baseline {ctx.baseline}"
    else:
        baseline, note = find_baseline(ctx.config)
    candidate = ctx.load_candidate()
    frame = ctx.test_table() if baseline is not None else None
    ctx.progress("paired bootstrap", 0.4)
    return compare_with(ctx.config, candidate, baseline, note, frame, ctx.out_dir)
