"""``mlgate validate``: the data gate, on the project's data or on any file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, DataOpt, OutputOpt, console, finish, maybe_load, report_dir
from mlgate.cli.app import app


@app.command()
def validate(
    config: ConfigOpt = None,
    data: DataOpt = None,
    schema: Annotated[Path | None, typer.Option(help="Schema YAML to validate against.")] = None,
    infer_schema: Annotated[Path | None, typer.Option(
        "--infer-schema", help="Infer a schema (from --reference, else --data) and write it here.")] = None,
    reference: Annotated[Path | None, typer.Option(
        help="Training data: schema source and the train side of the leakage/target checks.")] = None,
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    key: Annotated[list[str] | None, typer.Option(help="Key column (repeatable).")] = None,
    thresholds: Annotated[Path | None, typer.Option(
        help="YAML with min_quality_score and per-check settings (as gates.validate).")] = None,
    output: OutputOpt = None,
) -> int:
    """Validate data: schema, quality checks, leakage; exit 1 when the gate fails."""
    from mlgate.data.stage import StandaloneRequest, run_validate, validate_files
    from mlgate.errors import UsageError

    cfg = maybe_load(config)
    root = cfg.root if cfg else Path.cwd()
    out_dir = output or report_dir(root, "validate")
    if data is None:
        if cfg is None:
            raise UsageError("no mlgate.yaml here: pass --data FILE (and --schema, --infer-schema "
                             "or --reference), or --config FILE")
        from mlgate.context import StageContext
        from mlgate.data.stage import write_project_schema

        if infer_schema:  # infer from the project's training table, then validate against it
            cfg.data.schema_file = str(write_project_schema(cfg, infer_schema).resolve())
        elif schema:
            cfg.data.schema_file = str(schema.resolve())
        out_dir.mkdir(parents=True, exist_ok=True)
        report = run_validate(StageContext(config=cfg, out_dir=out_dir))
    else:
        req = StandaloneRequest(data, schema, infer_schema, reference, target, tuple(key or ()), thresholds)
        report = validate_files(req, cfg)
    if infer_schema:
        from mlgate.data.schema import inferred_summary

        console.print(f"wrote schema {infer_schema}: {inferred_summary(infer_schema)}")
    return finish(report, out_dir)
