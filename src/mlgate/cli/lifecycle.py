"""``mlgate evaluate``, ``mlgate compare`` and ``mlgate register``: the model lifecycle gates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgate.cli._common import ConfigOpt, DataOpt, ModelOpt, OutputOpt, console, finish, load, maybe_load, report_dir
from mlgate.cli.app import app

if TYPE_CHECKING:
    from mlgate.config import Config


def _candidate(cfg: Config, model: str | None) -> str:
    """``--model``, else the model folder of the last passing train stage."""
    if model:
        return model
    from mlgate.errors import UsageError
    from mlgate.pipeline import Pipeline

    train = Pipeline(cfg).stage_dirs().get("train")
    if train is None or not (train / "model").exists():
        raise UsageError("no trained model yet: pass --model PATH|URI, or run `mlgate run --until train`")
    return str(train / "model")


@app.command()
def evaluate(config: ConfigOpt = None, model: ModelOpt = None, data: DataOpt = None,
             output: OutputOpt = None) -> int:
    """Metrics with bootstrap confidence intervals, thresholds, slices and plots."""
    from mlgate.evaluation.stage import evaluate_path

    cfg = load(config)
    out_dir = output or report_dir(cfg.root, "evaluate")
    report = evaluate_path(cfg, _candidate(cfg, model), data, out_dir)
    console.print(f"metrics: {out_dir / 'metrics.json'}")
    return finish(report, out_dir)


@app.command()
def compare(config: ConfigOpt = None, model: ModelOpt = None, data: DataOpt = None,
            baseline: Annotated[str | None, typer.Option(
                help="Baseline model (path or URI); default: models:/NAME@production.")] = None,
            output: OutputOpt = None) -> int:
    """Candidate versus production on the same rows: paired bootstrap, McNemar, decision rules."""
    from mlgate.evaluation.stage import compare_path

    cfg = load(config)
    out_dir = output or report_dir(cfg.root, "compare")
    report = compare_path(cfg, _candidate(cfg, model), baseline, data, out_dir)
    console.print(f"decision: {out_dir / 'decision.json'}")
    return finish(report, out_dir)


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
    ./.mlgate/mlflow.db.
    """
    from mlgate.errors import UsageError
    from mlgate.registry import bare_config, register_path

    cfg = maybe_load(config)
    if cfg is None:
        if not (model and name):
            raise UsageError("no mlgate.yaml here: pass --model PATH and --name NAME, or --config FILE")
        cfg = bare_config(name, Path.cwd())
    out_dir = output or report_dir(cfg.root, "register")
    fingerprint = None
    if data is not None:
        from mlgate.data.io import frame_fingerprint, load_table

        fingerprint = frame_fingerprint(load_table(data))
    report = register_path(cfg, _candidate(cfg, model), name=name, alias=alias,
                           data_fingerprint=fingerprint, trust=trust, out_dir=out_dir)
    return finish(report, out_dir)
