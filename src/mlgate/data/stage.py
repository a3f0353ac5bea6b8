"""The validate gate: pipeline stage (``run_validate``) and the standalone command's library call."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import load_table, require_columns
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
    """Validate the project's train and test tables against its schema (inferred when absent)."""
    t0 = time.perf_counter()
    cfg = ctx.config
    gate = cfg.gates.validate_
    checks = build_checks(gate.checks)  # a config mistake fails before any data is read
    schema = load_schema(cfg.resolve(cfg.data.schema_file)) if cfg.data.schema_file else None
    train, test = _project_tables(cfg)
    if cfg.data.schema_file:
        schema_path = cfg.resolve(cfg.data.schema_file)
    else:
        schema = infer_schema(train, target=cfg.data.target, keys=cfg.data.id_columns)
        schema_path = save_schema(schema, ctx.out_dir / "schema.yaml", source="the training data")
    assert schema is not None
    keys = cfg.data.id_columns or schema.keys
    task = _TASKS.get(cfg.task or "")
    views = [TableView(train, "train", schema, cfg.data.target, keys, task)]
    if test is not None:
        views.append(TableView(test, "test", schema, cfg.data.target, keys, task))
    pair = (views[0], views[1]) if test is not None else None
    return _run(views, pair, checks, gate.min_quality_score, schema_path, ctx.progress, t0)


def write_project_schema(cfg: Config, path: Path) -> Path:
    """Infer a schema from the project's training table and save it to ``path``."""
    train, _ = _project_tables(cfg)
    schema = infer_schema(train, target=cfg.data.target, keys=cfg.data.id_columns)
    return save_schema(schema, path, source="the training data")


def _project_tables(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Train and test as the config names them, id columns kept (they are checked for duplicates)."""
    from mlgate.data.io import split_frame

    data = cfg.data
    if data.path:
        source = cfg.resolve(data.path)
        frame = load_table(source)
        require_columns(frame, [data.target], str(source))
        return split_frame(frame, data.target, data.split.test, data.split.seed,
                           stratify=data.split.stratify)
    assert data.train is not None  # DataConfig's validator guarantees train or path
    train_path = cfg.resolve(data.train)
    train = load_table(train_path)
    require_columns(train, [data.target], str(train_path))
    if not data.test:
        return split_frame(train, data.target, data.split.test, data.split.seed,
                           stratify=data.split.stratify)
    test_path = cfg.resolve(data.test)
    test = load_table(test_path)
    require_columns(test, [data.target], str(test_path))
    return train, test


@dataclass
class StandaloneRequest:
    """What ``mlgate validate --data X`` was asked to do."""

    data: Path
    schema: Path | None = None
    infer_schema_to: Path | None = None
    reference: Path | None = None
    target: str | None = None
    keys: tuple[str, ...] = ()
    thresholds: Path | None = None


def validate_files(req: StandaloneRequest, config: Config | None = None) -> Report:
    """Validate one data file (optionally against a reference) without a pipeline run."""
    t0 = time.perf_counter()
    if req.schema and req.infer_schema_to:
        raise UsageError("give either --schema FILE (validate against it) or --infer-schema FILE "
                         "(write one), not both")
    gate = _gate(req.thresholds, config)
    where = f"{req.thresholds} -> checks" if req.thresholds else "gates -> validate -> checks"
    checks = build_checks(gate.checks, where)
    schema_file = req.schema or (config.resolve(config.data.schema_file)
                                 if config and config.data.schema_file and not req.infer_schema_to
                                 else None)
    given = load_schema(schema_file) if schema_file else None  # fail on a bad schema before reading data
    frame = load_table(req.data)
    reference = load_table(req.reference) if req.reference else None
    target = req.target or (config.data.target if config else None)
    keys = list(req.keys) or (list(config.data.id_columns) if config else [])
    if given is not None:
        schema = given
        target = target or schema.target
        schema_path: Path | None = schema_file
    else:
        basis, basis_path = (reference, req.reference) if reference is not None else (frame, req.data)
        if target:
            require_columns(basis, [target], str(basis_path))
        schema = infer_schema(basis, target=target, keys=keys)
        schema_path = save_schema(schema, req.infer_schema_to, source=str(basis_path)) \
            if req.infer_schema_to else None
    if target:
        require_columns(frame, [target], str(req.data))
        if reference is not None:
            require_columns(reference, [target], str(req.reference))
    task = _TASKS.get((config.task if config else None) or "")
    keys = keys or schema.keys
    view = TableView(frame, req.data.name, schema, target, keys, task)
    pair = None
    if reference is not None:
        assert req.reference is not None
        pair = (TableView(reference, req.reference.name, schema, target, keys, task), view)
    return _run([view], pair, checks, gate.min_quality_score, schema_path, None, t0)


def _gate(thresholds: Path | None, config: Config | None) -> ValidateGate:
    from pydantic import ValidationError

    from mlgate.config import ValidateGate, format_validation_error, parse_yaml

    if thresholds is None:
        return config.gates.validate_ if config else ValidateGate.model_validate({})
    try:
        text = thresholds.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read thresholds file {thresholds}: {exc}") from exc
    raw = parse_yaml(text, thresholds) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{thresholds} must hold a mapping (min_quality_score, checks), "
                          f"got {type(raw).__name__}")
    try:
        return ValidateGate.model_validate(raw)
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

