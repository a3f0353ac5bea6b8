"""``mlgate evaluate``, ``mlgate compare`` and ``mlgate register``: the model lifecycle gates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import (
    ConfigOpt,
    DataOpt,
    ModelOpt,
    OutputOpt,
    console,
    finish,
    load,
    maybe_load,
    note_newer_model,
)
from mlgate.cli.app import app


@app.command()
def evaluate(config: ConfigOpt = None, model: ModelOpt = None, data: DataOpt = None,
             output: OutputOpt = None) -> int:
    """Metrics with bootstrap confidence intervals, thresholds, slices and plots.

    Judges --model (default: the last passing train stage's model) on --data (default: the
    config's test table).
    """
    from mlgate.context import standalone_context
    from mlgate.evaluation.stage import run_evaluate

    ctx = standalone_context("evaluate", load(config), output=output, model=model, data=data)
    note_newer_model(ctx)
    report = run_evaluate(ctx)
    console.print(f"metrics: {ctx.out_dir / 'metrics.json'}")
    return finish(report, ctx.out_dir)


@app.command()
def compare(config: ConfigOpt = None, model: ModelOpt = None, data: DataOpt = None,
            baseline: Annotated[str | None, typer.Option(
                help="Baseline model (path or URI); default: models:/NAME@production.")] = None,
            output: OutputOpt = None) -> int:
    """Candidate versus production on the same rows: paired bootstrap, McNemar, decision rules."""
    from mlgate.context import standalone_context
    from mlgate.evaluation.stage import run_compare

    ctx = standalone_context("compare", load(config), output=output, model=model, baseline=baseline, data=data)
    note_newer_model(ctx)
    report = run_compare(ctx)
    console.print(f"decision: {ctx.out_dir / 'decision.json'}")
    return finish(report, ctx.out_dir)


@app.command()
def register(config: ConfigOpt = None, model: ModelOpt = None,
             name: Annotated[str | None, typer.Option(
                 help="Registered model name (default: registry.model_name).")] = None,
             alias: Annotated[str | None, typer.Option(
                 help="Alias for the new version (default: registry.alias).")] = None,
             data: DataOpt = None,
             trust: Annotated[bool, typer.Option(help="Load a pickle without the import allow list.")] = False,
             output: OutputOpt = None) -> int:
    """Register a model version with lineage tags and an alias (an MLflow folder or a .joblib file).

    Without mlgate.yaml, give --model and --name; the store is MLFLOW_TRACKING_URI or
    ./.mlgate/mlflow.db. --data is the training rows: fingerprinted, and profiled as the monitor
    reference (else mlgate.yaml's training data is). With neither, no profile is stored and
    `mlgate monitor` needs --reference with the training data or a profile.json.
    """
    from mlgate.config import flags_only_config
    from mlgate.context import standalone_context
    from mlgate.errors import UsageError
    from mlgate.registration import RegisterOptions, run_register

    cfg = maybe_load(config)
    if cfg is None:
        if not (model and name):
            raise UsageError("no mlgate.yaml here: pass --model PATH and --name NAME, or --config FILE")
        cfg = flags_only_config(Path.cwd(), name)
    ctx = standalone_context("register", cfg, output=output, model=model,
                             settings={"registry.model_name": name, "registry.alias": alias})
    # without --model, the last trained model is registered like any folder: by hand, outside the
    # pipeline's gates (`mlgate run` registers with them)
    note_newer_model(ctx)
    ctx.model = ctx.candidate_spec()
    return finish(run_register(ctx, RegisterOptions(trust=trust, training_data=data)), ctx.out_dir)
