"""``mlgate test``: the model test framework on the pipeline's model or on any model file."""

from __future__ import annotations

from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, DataOpt, ModelOpt, OutputOpt, console, finish, maybe_load, note_newer_model
from mlgate.cli._plugins import PluginHelp
from mlgate.cli.app import app
from mlgate.locations.refs import flag_ref


@app.command("test", cls=PluginHelp)
def test_model(
    model: ModelOpt = None,
    data: DataOpt = None,
    reference: Annotated[str | None, typer.Option(parser=flag_ref, metavar="PATH",
        help="Training data: enables shift statistics and the retraining check (default: the config's "
             "training table; none without a config).")] = None,
    target: Annotated[str | None, typer.Option(help="Target column (default: from the model or config).")] = None,
    protected: Annotated[list[str] | None, typer.Option(
        help="Protected attribute for the fairness check (repeatable or comma-separated; default: "
             "data.protected).")] = None,
    checks: Annotated[str | None, typer.Option(
        help="Comma-separated checks (default: all): {model_checks}.")] = None,
    config: ConfigOpt = None,
    output: OutputOpt = None,
) -> int:
    """Run the model checks; exit 1 when one fails, 2 on bad input.

    In a project after `mlgate run --until train`: `mlgate test`. Anywhere:
    `mlgate test --model model.joblib --data test.csv --reference train.csv --protected gender`
    """
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from mlgate.context import standalone_context
    from mlgate.modeltests.stage import run_test

    settings = {"data.target": target, "data.protected": _split(protected) or None,
                "gates.test.checks": _split([checks]) if checks else None}
    ctx = standalone_context("test", maybe_load(config), output=output, model=model, data=data,
                             reference=reference, settings=settings)
    note_newer_model(ctx)
    columns = (SpinnerColumn(), TextColumn("[bold]test[/]"), BarColumn(bar_width=24),
               TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=1.0)
        ctx.progress = lambda note, f: bar.update(task, description=note, completed=f or 0.0)
        report = run_test(ctx)
    for name, state in report.extras["families"].items():
        mark = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "warning": "[yellow]![/]",
                "skipped": "[dim]-[/]"}[state]
        console.print(f"  {mark} {name:<18} {report.extras['timings_s'][name]:6.2f} s")
    return finish(report, ctx.out_dir)


def _split(values: list[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``: flags given repeated or comma-separated."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]
