"""``mlgate validate``: the data gate, on the project's data or on any file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, DataOpt, OutputOpt, console, finish, maybe_load
from mlgate.cli._plugins import PluginHelp
from mlgate.cli.app import app
from mlgate.locations.refs import flag_ref


@app.command(cls=PluginHelp)
def validate(
    config: ConfigOpt = None,
    data: DataOpt = None,
    schema: Annotated[Path | None, typer.Option(
        help="Schema YAML to validate against (default: data.schema of mlgate.yaml, else a schema "
             "inferred from the training data).")] = None,
    infer_schema: Annotated[Path | None, typer.Option(
        "--infer-schema", help="Infer a schema (from --reference, else --data) and write it here (default: schema.yaml "
                            "in the output folder, when no schema is given).")] = None,
    reference: Annotated[str | None, typer.Option(parser=flag_ref, metavar="PATH",
        help="Training data: schema source and the train side of the leakage/target checks (default: "
             "the config's training table; none without a config).")] = None,
    target: Annotated[str | None, typer.Option(help="Target column (default: data.target; none without "
                                                    "a config).")] = None,
    key: Annotated[list[str] | None, typer.Option(help="Key column (repeatable; default: data.id_columns).")] = None,
    thresholds: Annotated[Path | None, typer.Option(
        help="YAML with min_quality_score and per-check settings, as gates.validate (default: "
             "gates.validate of mlgate.yaml, else min_quality_score 0.9).")] = None,
    output: OutputOpt = None,
) -> int:
    """Validate data: schema, quality checks, leakage; exit 1 when the gate fails.

    Data checks (gates -> validate -> checks -> NAME): {data_checks}."""
    from mlgate.context import standalone_context
    from mlgate.data.stage import ValidateOptions, run_validate
    from mlgate.errors import UsageError

    cfg = maybe_load(config)
    if data is None and cfg is None:
        raise UsageError("no mlgate.yaml here: pass --data FILE (and --schema, --infer-schema "
                         "or --reference), or --config FILE")
    options = ValidateOptions(schema=schema, infer_schema=infer_schema, thresholds=thresholds, target=target,
                              keys=tuple(key or ()))
    ctx = standalone_context("validate", cfg, output=output, data=data, reference=reference)
    report = run_validate(ctx, options)
    if infer_schema:
        from mlgate.data.schema import inferred_summary

        console.print(f"wrote schema {infer_schema}: {inferred_summary(infer_schema)}")
    return finish(report, ctx.out_dir)
