"""``mlgate train`` and ``mlgate tune``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, DataOpt, OutputOpt, console, finish, load
from mlgate.cli.app import app

ModelTypeOpt = Annotated[list[str] | None, typer.Option(
    "--model-type", "-t",
    help="A model type to train (repeat for a matrix); replaces `models` (default: the config's models).")]


@app.command()
def train(
    config: ConfigOpt = None,
    model_type: ModelTypeOpt = None,
    params: Annotated[Path | None, typer.Option(
        help="YAML of hyper-parameters: {param: value} or {model: {param: value}} (default: each "
             "model's params in mlgate.yaml, and tune's best ones when tune ran).")] = None,
    data: DataOpt = None,
    output: OutputOpt = None,
    candidate: Annotated[list[str] | None, typer.Option(
        help="Train only this candidate of `models` (by name or type; repeatable): one job of a CI matrix "
             "(default: every candidate).")] = None,
    pick_best: Annotated[Path | None, typer.Option(
        help="Instead of training, pick the best of the candidates in this folder (one subfolder per "
             "--candidate job) and record it as the pipeline's train stage (default: none, train).")] = None,
) -> int:
    """Train every candidate model, pick the best on validation, save it as an MLflow model."""
    from mlgate.context import standalone_context
    from mlgate.train.standalone import override, read_params_file, run_standalone

    if pick_best is not None:
        from mlgate.ci.matrix import pick_best as pick
        from mlgate.cli._console import print_table
        from mlgate.cli._display import final_table

        record = pick(load(config), pick_best)
        print_table(final_table(record))
        return record.exit_code
    extra = read_params_file(params) if params else None
    cfg = override(load(config), model_types=model_type, params=extra, data=data, candidates=candidate)
    with _progress("train") as hook:
        report, out_dir = run_standalone(standalone_context("train", cfg, output=output), "train", hook)
    metric = report.extras.get("selection_metric", "")
    for row in report.extras.get("candidates", []):
        value = row["metrics"].get(metric)
        shown = f"{metric} {value:.4f}" if value is not None else f"failed: {row['error']}"
        tuned = ", tuned" if row["tuned"] else ""
        console.print(f"  {'✓' if row['chosen'] else ' '} {row['label']:<24} {shown}  "
                      f"({row['fit_seconds']:.1f} s{tuned})", markup=False)
    if report.extras.get("model_dir"):
        console.print(f"Model: {report.extras['model_dir']}  ({report.extras.get('model_uri')})")
    return finish(report, out_dir)


@app.command()
def tune(
    config: ConfigOpt = None,
    n_trials: Annotated[int | None, typer.Option(
        min=1, help="Trials to run in this call (default: tune.n_trials, 20).")] = None,
    study_name: Annotated[str | None, typer.Option(
        help="Optuna study, resumed if it exists (default: tune.study_name, else the project and model "
             "type).")] = None,
    storage: Annotated[str | None, typer.Option(
        help="Optuna storage URL (default sqlite:///.mlgate/optuna.db); postgresql://USER:PASS@HOST/DB to "
             "share one study between machines or CI jobs.")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Local worker processes on the study; the trials are split between them "
                            "(default: tune.workers, 1).")] = None,
    timeout: Annotated[float | None, typer.Option(
        min=0.001, help="Stop starting trials after S seconds (default: tune.timeout, none).")] = None,
    model_type: Annotated[str | None, typer.Option(
        "--model-type", "-t", help="The model type to tune (default: tune.model, else the first of "
                                   "models).")] = None,
    output: OutputOpt = None,
) -> int:
    """Search hyper-parameters with Optuna; write best_params.yaml for `mlgate train`."""
    from mlgate.context import standalone_context
    from mlgate.train.standalone import override, run_standalone

    tune_keys = {"n_trials": n_trials, "study_name": study_name, "storage": storage,
                 "timeout": timeout, "model": model_type, "workers": workers, "enabled": True}
    cfg = override(load(config), tune=tune_keys)
    with _progress("tune") as hook:
        report, out_dir = run_standalone(standalone_context("tune", cfg, output=output), "tune", hook)
    console.print(f"Best params: {report.extras.get('best_params_file')}")
    return finish(report, out_dir)


@contextlib.contextmanager
def _progress(stage: str) -> Iterator[Callable[[str, float | None], None]]:
    """A Rich progress bar driven by the stage's ``progress(note, fraction)`` calls."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]{task.fields[stage]}[/]"), BarColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=console, transient=True)
    task = bar.add_task("starting", total=1.0, stage=stage)

    def hook(note: str, fraction: float | None) -> None:
        bar.update(task, description=note, completed=fraction if fraction is not None else None)

    with bar:
        yield hook
