"""The evaluate and compare stages, and the same two gates run on their own.

``run_evaluate`` and ``run_compare`` are the pipeline entries; ``evaluate_path`` and
``compare_path`` serve ``mlgate evaluate`` and ``mlgate compare`` outside a pipeline run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.reports.model import Report

if TYPE_CHECKING:
    from mlgate.config import Config, EvaluateGate
    from mlgate.context import StageContext
    from mlgate.models import LoadedModel


def run_evaluate(ctx: StageContext) -> Report:
    """Evaluate the train stage's model on the project's test rows; write metrics.json."""
    from mlgate.evaluation import evaluate_model
    from mlgate.evaluation.inputs import load_candidate

    t0 = time.perf_counter()
    ctx.progress("loading the model and test rows", 0.1)
    model = load_candidate(ctx)
    data = ctx.dataset()
    ctx.progress(f"bootstrapping {ctx.config.gates.evaluate.bootstrap} resamples", 0.3)
    report, result = evaluate_model(model, data.test, data.target, gate_with_slices(ctx.config),
                                    task=ctx.config.task, seed=ctx.config.seed,
                                    id_columns=ctx.config.data.id_columns)
    result.write(ctx.out_dir)
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def gate_with_slices(config: Config) -> EvaluateGate:
    """The evaluate gate, slicing by the protected attributes when no slices are configured."""
    gate = config.gates.evaluate
    if gate.slices or not config.data.protected:
        return gate
    return gate.model_copy(update={"slices": list(config.data.protected)})


def evaluate_path(config: Config, model_spec: str, data: Path | None, out_dir: Path) -> Report:
    """Evaluate any model (folder, file or registry URI) on ``data`` or the config's test rows."""
    from mlgate.data.io import load_dataset, load_table
    from mlgate.evaluation import evaluate_model
    from mlgate.models import load_model

    t0 = time.perf_counter()
    model = load_model(model_spec, config)
    frame = load_table(data) if data else load_dataset(config).test
    report, result = evaluate_model(model, frame, config.data.target, gate_with_slices(config),
                                    task=config.task, seed=config.seed,
                                    id_columns=config.data.id_columns)
    result.write(out_dir)
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def run_compare(ctx: StageContext) -> Report:
    """Compare the train stage's model with production on the test rows; write decision.json."""
    from mlgate.evaluation.baseline import compare_with, find_baseline
    from mlgate.evaluation.inputs import load_candidate

    ctx.progress("looking up the production model", 0.1)
    baseline, note = find_baseline(ctx.config)
    candidate = load_candidate(ctx)
    frame = ctx.dataset().test if baseline is not None else None
    ctx.progress("paired bootstrap", 0.4)
    return compare_with(ctx.config, candidate, baseline, note, frame, ctx.out_dir)


def compare_path(config: Config, model_spec: str, baseline_spec: str | None, data: Path | None,
                 out_dir: Path) -> Report:
    """``mlgate compare``: any candidate against ``--baseline`` or the production alias."""
    from mlgate.data.io import load_dataset, load_table
    from mlgate.evaluation.baseline import compare_with, find_baseline
    from mlgate.models import load_model

    candidate = load_model(model_spec, config)
    baseline: LoadedModel | None
    if baseline_spec:
        baseline, note = load_model(baseline_spec, config), f"baseline {baseline_spec}"
    else:
        baseline, note = find_baseline(config)
    frame = None
    if baseline is not None:
        frame = load_table(data) if data else load_dataset(config).test
    return compare_with(config, candidate, baseline, note, frame, out_dir)
