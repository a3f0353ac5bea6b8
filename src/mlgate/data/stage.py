"""The validate gate: ``run_validate(ctx)``, in a pipeline run and for ``mlgate validate``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import load_table, require_columns
from mlgate.data.refs import DataRef, label
from mlgate.data.schema import infer_schema, load_schema, save_schema
from mlgate.data.table import TableView
from mlgate.data.validator import build_checks
from mlgate.errors import ConfigError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Config, ValidateGate
    from mlgate.context import StageContext
    from mlgate.data.checks import DataCheck
    from mlgate.reports.model import Report

_TASKS = {"binary": "classification", "multiclass": "classification", "regression": "regression"}


def run_validate(ctx: StageContext) -> Report:
    """Validate the project's train and test tables, or the ``--data`` table when a command names one.

    A command's own flags come in ``ctx.options``: ``schema`` (validate against this file),
    ``infer_schema`` (write the inferred schema here, then validate against it), ``thresholds``
    (a YAML file shaped like ``gates.validate``), ``target`` and ``keys``.
    """
    t0 = time.perf_counter()
    opts = ctx.options
    if opts.get("schema") and opts.get("infer_schema"):
        raise UsageError("give either --schema FILE (validate against it) or --infer-schema FILE "
                         "(write one), not both")
    if ctx.test_data is not None:
        return _validate_file(ctx, ctx.test_data, t0)
    cfg = ctx.config
    gate, where = _gate(opts.get("thresholds"), cfg)
    checks = build_checks(gate.checks, where)  # a config mistake fails before any data is read
    schema_file = _given_schema(opts, cfg)
    schema = load_schema(schema_file) if schema_file else None
    train, test = _project_tables(cfg)
    if schema is None:
        schema = infer_schema(train, target=cfg.data.target, keys=cfg.data.id_columns)
        schema_file = save_schema(schema, opts.get("infer_schema") or ctx.out_dir / "schema.yaml",
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
    from mlgate.data.io import split_frame

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


def _validate_file(ctx: StageContext, data: DataRef, started: float) -> Report:
    """One data file (beside ``--reference`` when given), with the project's settings if there is a project."""
    opts = ctx.options
    config = None if ctx.bare else ctx.config
    infer_to: Path | None = opts.get("infer_schema")
    gate, where = _gate(opts.get("thresholds"), config)
    checks = build_checks(gate.checks, where)
    schema_file = _given_schema(opts, config)
    given = load_schema(schema_file) if schema_file else None  # fail on a bad schema before reading data
    frame = load_table(data)
    ref_path = ctx.reference_data
    reference = load_table(ref_path) if ref_path else None
    target = opts.get("target") or (config.data.target if config else None)
    keys = list(opts.get("keys") or ()) or (list(config.data.id_columns) if config else [])
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


def _given_schema(opts: dict[str, Any], config: Config | None) -> Path | None:
    """The schema to validate against: ``--schema``, else the config's schema file; none when
    ``--infer-schema`` asks for a new one (the two flags together are refused before this)."""
    if opts.get("infer_schema"):
        return None
    if opts.get("schema"):
        return Path(opts["schema"])
    return config.resolve(config.data.schema_file) if config and config.data.schema_file else None


def _gate(thresholds: Path | None, config: Config | None) -> tuple[ValidateGate, str]:
    """The gate's settings (``--thresholds`` file, else the config's), and where they came from."""
    from pydantic import ValidationError

    from mlgate.config import ValidateGate, format_validation_error, parse_yaml

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
    from mlgate.data.profile import profile_section, profile_table
    from mlgate.data.validator import validate_tables

    report = validate_tables(views, checks, min_score=min_score, pair=pair, progress=progress)
    profiles = {}
    for view in views:
        profiles[view.label] = profile_table(view)
        report.sections.append(profile_section(view.label, profiles[view.label]))
    report.extras = {
        "schema": str(schema_path) if schema_path else None,
        "tables": {v.label: {"rows": v.rows, "columns": int(v.frame.shape[1])} for v in views},
        "reference": pair[0].label if pair else None,
        "profile": profiles,
    }
    report.duration_s = round(time.perf_counter() - started, 3)  # reading and profile included
    return report

