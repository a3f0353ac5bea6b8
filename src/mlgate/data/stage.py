"""The validate gate: ``run_validate(ctx)``, in a pipeline run and for ``mlgate validate``."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config import ValidateGate, format_validation_error, parse_yaml
from mlgate.data.io import load_table, require_columns, split_frame
from mlgate.data.profile import profile_section, profile_table
from mlgate.data.schema import infer_schema, load_schema, save_schema
from mlgate.data.stream import Plan, StreamView, file_columns, new_folder, scan_files, scan_on_dask
from mlgate.data.stream_schema import infer_streamed
from mlgate.data.table import TableView
from mlgate.data.validator import build_checks, validate_tables
from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.locations.refs import DataRef, label, table_files

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from mlgate.config import Config
    from mlgate.context import StageContext
    from mlgate.data.checks import DataCheck
    from mlgate.data.schema import Schema
    from mlgate.reports.model import Report

_TASKS = {"binary": "classification", "multiclass": "classification", "regression": "regression"}


@dataclass(frozen=True)
class ValidateOptions:
    """``mlgate validate``'s flags that are no config key; ``mlgate run`` validates with the defaults."""

    schema: Path | None = None  # validate against this schema file (None: data.schema, else inferred)
    infer_schema: Path | None = None  # write the inferred schema here, then validate against it
    thresholds: Path | None = None  # a YAML file shaped like gates.validate (None: the config's)
    target: str | None = None  # None: data.target (no target without a config)
    keys: tuple[str, ...] = ()  # key columns (empty: data.id_columns)
    dask: str | Client | None = None  # a scheduler address or Client: each file's state computed there
    in_memory: bool = False  # read whole tables into pandas instead of streaming them (the same report)


def run_validate(ctx: StageContext, options: ValidateOptions | None = None) -> Report:
    """Validate the project's train and test tables, or the ``--data`` table when a command names one.

    CSV and Parquet tables are streamed (``mlgate.data.stream``), none held in memory; a schema
    inferred from the reference (else the data) takes a streamed pass of its own over that table
    (``mlgate.data.stream_schema``). A table split in two by ``data.split`` is read whole.
    """
    t0 = time.perf_counter()
    opts = options or ValidateOptions()
    if opts.schema and opts.infer_schema:
        raise UsageError("give either --schema FILE (validate against it) or --infer-schema FILE "
                         "(write one), not both")
    if ctx.test_data is not None:
        return _validate_file(ctx, opts, ctx.test_data, t0)
    cfg = ctx.config
    gate, where = _gate(opts.thresholds, cfg)
    checks = build_checks(gate.checks, where)  # a config mistake fails before any data is read
    schema_file = _given_schema(opts, cfg)
    schema = load_schema(schema_file) if schema_file else None
    if not opts.in_memory and cfg.data.train and cfg.data.test and not cfg.data.path:
        return _validate_streamed(ctx, opts, cfg.data_ref(cfg.data.test), cfg.data_ref(cfg.data.train), schema,
                                  schema_file, cfg.data.target, list(cfg.data.id_columns), checks, gate, t0,
                                  labels=("test", "train"))
    train, test = _project_tables(cfg)
    if schema is None:
        schema = infer_schema(train, target=cfg.data.target, keys=cfg.data.id_columns)
        schema_file = save_schema(schema, opts.infer_schema or ctx.out_dir / "schema.yaml",
                                  source="the training data")
    keys = cfg.data.id_columns or schema.keys
    task = _TASKS.get(cfg.task or "")
    views = [TableView(train, "train", schema, cfg.data.target, keys, task)]
    if test is not None:
        views.append(TableView(test, "test", schema, cfg.data.target, keys, task))
    pair = (views[0], views[1]) if test is not None else None
    return _run(views, pair, checks, gate.min_quality_score, schema_file, ctx.progress, t0)


def _project_tables(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Train and test as the config names them, id columns kept (they are checked for duplicates)."""
    data = cfg.data
    if data.path:
        source = cfg.data_ref(data.path)
        frame = load_table(source)
        require_columns(frame, [data.target], str(source))
        return split_frame(frame, data.target, data.split.test, data.split.seed,
                           stratify=data.split.stratify)
    assert data.train is not None  # DataConfig's validator guarantees train or path
    train_path = cfg.data_ref(data.train)
    train = load_table(train_path)
    require_columns(train, [data.target], str(train_path))
    if not data.test:
        return split_frame(train, data.target, data.split.test, data.split.seed,
                           stratify=data.split.stratify)
    test_path = cfg.data_ref(data.test)
    test = load_table(test_path)
    require_columns(test, [data.target], str(test_path))
    return train, test


def _validate_file(ctx: StageContext, opts: ValidateOptions, data: DataRef, started: float) -> Report:
    """One data file (beside ``--reference`` when given), with the project's settings if there is a project."""
    config = None if ctx.bare else ctx.config
    infer_to = opts.infer_schema
    gate, where = _gate(opts.thresholds, config)
    checks = build_checks(gate.checks, where)
    schema_file = _given_schema(opts, config)
    given = load_schema(schema_file) if schema_file else None  # fail on a bad schema before reading data
    ref_path = ctx.reference_data
    target = opts.target or (config.data.target if config else None)
    keys = list(opts.keys) or (list(config.data.id_columns) if config else [])
    if not opts.in_memory:
        return _validate_streamed(ctx, opts, data, ref_path, given, schema_file, target, keys, checks, gate, started)
    frame = load_table(data)
    reference = load_table(ref_path) if ref_path else None
    if given is not None:
        schema = given
        target = target or schema.target
        schema_path: Path | None = schema_file
    else:
        basis, basis_path = (reference, ref_path) if reference is not None else (frame, data)
        if target:
            require_columns(basis, [target], str(basis_path))
        schema = infer_schema(basis, target=target, keys=keys)
        schema_path = save_schema(schema, infer_to, source=str(basis_path)) if infer_to else None
    if target:
        require_columns(frame, [target], str(data))
        if reference is not None:
            require_columns(reference, [target], str(ref_path))
    task = _TASKS.get((config.task if config else None) or "")
    keys = keys or schema.keys
    view = TableView(frame, label(data), schema, target, keys, task)
    pair = None
    if reference is not None and ref_path is not None:
        pair = (TableView(reference, label(ref_path), schema, target, keys, task), view)
    return _run([view], pair, checks, gate.min_quality_score, schema_path, ctx.progress, started)


def _given_schema(opts: ValidateOptions, config: Config | None) -> Path | None:
    """The schema to validate against: ``--schema``, else the config's schema file; none when
    ``--infer-schema`` asks for a new one (the two flags together are refused before this)."""
    if opts.infer_schema:
        return None
    if opts.schema:
        return opts.schema
    return config.resolve(config.data.schema_file) if config and config.data.schema_file else None


def _gate(thresholds: Path | None, config: Config | None) -> tuple[ValidateGate, str]:
    """The gate's settings (``--thresholds`` file, else the config's), and where they came from."""
    from pydantic import ValidationError

    if thresholds is None:
        gate = config.gates.validate_ if config else ValidateGate.model_validate({})
        return gate, "gates -> validate -> checks"
    try:
        text = thresholds.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read thresholds file {thresholds}: {exc}") from exc
    raw = parse_yaml(text, thresholds) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{thresholds} must hold a mapping (min_quality_score, checks), "
                          f"got {type(raw).__name__}")
    try:
        return ValidateGate.model_validate(raw), f"{thresholds} -> checks"
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, thresholds, text)) from exc


def _run(views: list[TableView], pair: tuple[TableView, TableView] | None, checks: list[DataCheck],
         min_score: float, schema_path: Path | None, progress: Any, started: float) -> Report:
    report = validate_tables(views, checks, min_score=min_score, pair=pair, progress=progress)
    profiles = {}
    for view in views:
        profiles[view.label] = profile_table(view)
        report.sections.append(profile_section(view.label, profiles[view.label]))
    report.extras = {
        "schema": str(schema_path) if schema_path else None,
        "tables": {v.label: {"rows": v.rows, "columns": len(v.columns)} for v in views},
        "reference": pair[0].label if pair else None,
        "profile": profiles,
    }
    report.duration_s = round(time.perf_counter() - started, 3)  # reading and profile included
    return report


def _validate_streamed(ctx: StageContext, opts: ValidateOptions, data: DataRef, ref_path: DataRef | None,
                       given: Schema | None, schema_file: Path | None, target: str | None, keys: list[str],
                       checks: list[DataCheck], gate: ValidateGate, started: float,
                       labels: tuple[str, str] | None = None) -> Report:
    """``data`` (beside ``ref_path``) streamed batch by batch; the same report as the in-memory path."""
    ref_files = table_files(ref_path) if ref_path is not None else None  # train first, as when read whole
    files = table_files(data)
    if given is not None:
        schema, schema_path = given, schema_file
        target = target or schema.target
    else:  # inferred from the reference (else the data), in a streamed pass of its own
        basis_path = ref_path if ref_path is not None else data
        schema = infer_streamed(ref_files or files, target=target, keys=keys, dask=opts.dask,
                                source=str(basis_path))
        infer_to = opts.infer_schema
        if labels is not None:  # the project's tables: the schema is written as the in-memory path writes it
            schema_path = save_schema(schema, infer_to or ctx.out_dir / "schema.yaml", source="the training data")
        else:
            schema_path = save_schema(schema, infer_to, source=str(basis_path)) if infer_to else None
    ref_columns = file_columns(ref_files[0]) if ref_files else None
    columns = file_columns(files[0])
    if target:
        _require(columns, target, data)
        if ref_columns is not None:
            _require(ref_columns, target, ref_path)
    config = None if ctx.bare else ctx.config
    task = _TASKS.get((config.task if config else None) or "")
    keys = keys or schema.keys
    test_label, ref_label = labels or (label(data), label(ref_path) if ref_path is not None else "")
    leak = tuple(c for c in columns if c not in keys and ref_columns is not None and c in ref_columns)
    views: list[StreamView] = []
    try:
        ref_view = None
        if ref_path is not None and ref_columns is not None:
            ref_view = _stream_view(ref_files, ref_columns, ref_label, schema, target, keys, task, leak, opts)
            views.append(ref_view)
        view = _stream_view(files, columns, test_label, schema, target, keys, task, leak, opts)
        views.append(view)
        pair = (ref_view, view) if ref_view is not None else None
        tables: list[TableView] = [ref_view, view] if labels is not None and ref_view is not None else [view]
        return _run(tables, pair, checks, gate.min_quality_score, schema_path, ctx.progress, started)
    finally:
        for v in views:
            v.close()


def _require(columns: list[str], target: str, where: DataRef | None) -> None:
    if target not in columns:
        shown = ", ".join(map(repr, columns[:12]))
        raise DataError(f"{where} has no column {target!r} (columns: {shown}{', ...' if len(columns) > 12 else ''})")


def _stream_view(source: Any, columns: list[str], name: str, schema: Schema, target: str | None,
                 keys: list[str], task: str | None, leak: tuple[str, ...], opts: ValidateOptions) -> StreamView:
    """The streamed view of files."""
    present_keys = tuple(k for k in keys if k in columns)
    sets = [tuple(c for c in columns if c not in keys)]
    if present_keys:
        sets.append(present_keys)
    if leak:
        sets.append(leak)
    plan = Plan(schema, target, tuple(dict.fromkeys(sets)), (target,) if target and target in columns else ())
    folder = new_folder()
    try:
        state = scan_on_dask(opts.dask, source, plan) if opts.dask else scan_files(source, plan, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StreamView(state, name, schema, target, keys, task, folder=folder, source=source)
