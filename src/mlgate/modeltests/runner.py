"""Run the model checks on one model and one test table; the Python API behind every surface."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlgate.config import TestGate, placed_in_file, validation_problems
from mlgate.data.io import require_columns, split_frame
from mlgate.data.table import rows_fingerprint
from mlgate.errors import ConfigError, DataError, MlgateError
from mlgate.metrics import headline_metric
from mlgate.models import LoadedModel, load_model
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.modeltests.checks import MODEL_CHECKS
from mlgate.reports.model import Report, Section, Timer

if TYPE_CHECKING:
    from mlgate.config import Config

Progress = Callable[[str, float | None], None]


def run(model: Any, data: pd.DataFrame, config: TestGate | dict[str, Any] | None = None, *,
        reference: pd.DataFrame | None = None, target: str | None = None,
        protected: list[str] | None = None, checks: list[str] | None = None,
        seed: int | None = None, progress: Progress | None = None) -> Report:
    """Run the selected checks (default: every check of ``MODEL_CHECKS``) and return the test report.

    ``model`` is a fitted estimator, a ``LoadedModel`` or a path/URI; ``data`` holds the
    feature columns and the target; ``reference`` (the training table, target included)
    enables the shift statistics and the retraining of the reproducibility check.
    """
    loaded = as_loaded(model)
    gate = as_gate(config)
    instances = build_checks(gate, checks if checks is not None else gate.checks)
    subject = build_subject(loaded, data, reference=reference, target=target,
                            protected=protected or [], seed=seed)
    return run_checks(subject, instances, progress, gate.threads)


def as_loaded(model: Any) -> LoadedModel:
    """A LoadedModel from an estimator, a LoadedModel, or a path/URI."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, str | Path):
        return load_model(model)
    if not hasattr(model, "predict"):
        raise DataError(f"the model is a {type(model).__name__}, which has no predict()")
    return LoadedModel(estimator=model, source=f"<in-memory {type(model).__name__}>")


def as_gate(config: Any) -> TestGate:
    """The TestGate of a TestGate, a dict (``gates.test`` keys) or None (defaults)."""
    from pydantic import ValidationError

    if config is None:
        return TestGate()
    if isinstance(config, TestGate):
        return config
    try:
        return TestGate.model_validate(config)
    except ValidationError as exc:
        problems = _problems("gates -> test", exc)
        raise ConfigError(f"the model test config is invalid ({len(problems)} problem"
                          f"{'s' if len(problems) > 1 else ''})\n" + "\n".join(problems)) from exc


def build_checks(gate: TestGate, names: list[str] | None) -> list[ModelCheck]:
    """The configured check instances; unknown names and keys are ConfigErrors naming the key.

    Names and settings come from ``MODEL_CHECKS`` (built-in checks and plug-ins): every key of
    ``gates.test`` other than ``checks`` and ``threads`` names a check, whose class validates it.
    """
    from pydantic import ValidationError

    names = names or list(MODEL_CHECKS)
    problems = [f"  gates -> test -> checks: {MODEL_CHECKS.unknown(n, 'model check')}"
                for n in names if n not in MODEL_CHECKS]
    problems += [f"  gates -> test -> {key}: {MODEL_CHECKS.unknown(key, 'model check')} "
                 "(or one of: checks, threads)" for key in gate.model_extra or {} if key not in MODEL_CHECKS]
    out, first = [], None
    for name, cls in MODEL_CHECKS.items():  # validate every check, so all mistakes are reported at once
        try:
            check = cls.model_validate(gate.settings_of(name))
        except ValidationError as exc:
            problems += _problems(f"gates -> test -> {name}", exc)
            first = first or exc
            continue
        if name in names and check.enabled:
            out.append(check)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ConfigError(f"the model test config is invalid ({count})\n" + "\n".join(problems)) from first
    return sorted(out, key=lambda c: names.index(c.name))


def check_config(config: Config) -> None:
    """The test stage's preflight: ``gates.test`` against ``MODEL_CHECKS`` before any stage runs."""
    try:
        build_checks(config.gates.test, config.gates.test.checks)
    except ConfigError as exc:
        raise ConfigError(placed_in_file(config, exc.message)) from exc


def _problems(prefix: str, exc: Any) -> list[str]:
    return [f"  {line}" for line in validation_problems(exc, prefix)]


def build_subject(loaded: LoadedModel, data: pd.DataFrame, *, reference: pd.DataFrame | None,
                  target: str | None, protected: list[str], seed: int | None,
                  fit_rows: pd.DataFrame | None = None) -> Subject:
    """Check the inputs (exit-2 errors naming the column) and assemble what the checks share."""
    target = target or loaded.info.get("target") or "target"
    require_columns(data, [target], "the test data")
    notes = []
    missing_y = data[target].isna()
    if missing_y.any():
        notes.append(f"{int(missing_y.sum())} test rows without a target value were left out")
        data = data.loc[~missing_y]
    if data.empty:
        raise DataError("the test data has no rows with a target value")
    features = loaded.features or [c for c in data.columns if c != target]
    require_columns(data, features, "the test data (a feature the model needs)")
    require_columns(data, protected, "the test data (a protected attribute)")
    task = loaded.task or "regression"
    classes = _classes(loaded, data[target]) if task != "regression" else None
    X = data[features].reset_index(drop=True)
    y = data[target].to_numpy()
    ref_X = ref_y = None
    if reference is not None:
        require_columns(reference, [target, *features], "the reference (training) data")
        reference = reference.loc[reference[target].notna()]
        ref_X, ref_y = reference[features].reset_index(drop=True), reference[target].to_numpy()
    fit_X = fit_y = None
    fit_unknown = None
    if fit_rows is None and reference is not None and loaded.info:
        fit_rows, fit_unknown = recorded_fit_rows(loaded.info, reference, target, features)
    if fit_rows is not None:
        fit_X, fit_y = fit_rows[features].reset_index(drop=True), fit_rows[target].to_numpy()
    groups = {a: data[a].reset_index(drop=True) for a in protected}
    seed = seed if seed is not None else int(loaded.info.get("seed", 42) or 42)
    return Subject(model=loaded, X=X, y=y, task=task, classes=classes, reference=ref_X,
                   reference_y=ref_y, fit_X=fit_X, fit_y=fit_y, fit_unknown=fit_unknown, groups=groups,
                   seed=seed, notes=notes)


def recorded_fit_rows(info: dict[str, Any], reference: pd.DataFrame, target: str,
                      features: list[str]) -> tuple[pd.DataFrame | None, str | None]:
    """The reference rows the model was fitted on, from its own record (``mlgate.json``'s
    ``trained_on``), however the model was named: ``(rows, None)``, or ``(None, why not)``.

    The train stage fits on the train table minus a seeded validation split and does not refit,
    so a refit on all of the reference differs for a reason that is no reproducibility problem;
    the split is redrawn here and checked against the record's row count and fingerprint.
    """
    trained_on = info.get("trained_on")
    if not isinstance(trained_on, dict) or "rows" not in trained_on:
        return None, ("the model carries no record of the rows it was fitted on (no trained_on in its "
                      "mlgate.json)")
    rows = reference.dropna(subset=[target]).reset_index(drop=True)
    fit = rows
    if trained_on.get("validation_rows"):
        seed = int(trained_on.get("split_seed", info.get("seed", 42)) or 42)
        fit, _ = split_frame(rows, target, float(trained_on.get("validation_fraction", 0.2)), seed,
                             classes=str(info.get("task", "binary")) != "regression")
    recorded = trained_on.get("fit_fingerprint")
    columns = [*features, target]
    if len(fit) != trained_on["rows"] or (recorded and rows_fingerprint(fit, columns) != recorded):
        return None, (f"the reference is not the table the model was trained on: its record says "
                      f"{trained_on['rows']} fit rows"
                      + (f" of {trained_on['table_rows']}" if trained_on.get("table_rows") else "")
                      + f", the reference gives {len(fit)} of {len(rows)}"
                      + (" (same count, other rows)" if len(fit) == trained_on["rows"] else ""))
    return fit, None


def _classes(loaded: LoadedModel, y: pd.Series) -> np.ndarray:
    known = getattr(loaded.estimator, "classes_", None)
    if known is None:
        known = loaded.info.get("classes")
    classes = np.asarray(known) if known is not None else np.sort(y.unique())
    unseen = sorted(set(y.unique().tolist()) - set(classes.tolist()), key=str)
    if unseen:
        raise DataError(f"the target column {y.name!r} holds label(s) {unseen[:5]} the model does "
                        f"not know (its classes: {classes.tolist()})")
    return classes


def run_checks(subject: Subject, checks: list[ModelCheck], progress: Progress | None = None,
               threads: int | None = 1) -> Report:
    """Run each check under a native thread limit; a check that raises is reported as
    failed with the error, not re-raised."""
    if threads:
        subject.notes.append(f"checks ran with {threads} native thread(s) (gates.test.threads)")
    with subject.few_threads(threads):
        return _run_checks(subject, checks, progress)


def _run_checks(subject: Subject, checks: list[ModelCheck], progress: Progress | None) -> Report:
    progress = progress or (lambda note, fraction: None)
    report = Report(stage="test")
    families: dict[str, str] = {}
    details: dict[str, Any] = {}
    timings: dict[str, float] = {}
    with Timer(report):
        for i, check in enumerate(checks):
            progress(f"{check.name} ({i + 1}/{len(checks)})", i / len(checks))
            t0 = time.perf_counter()
            outcome = run_one(check, subject)
            timings[check.name] = round(time.perf_counter() - t0, 3)
            for row in outcome.checks:
                row.observed, row.expected = _jsonable(row.observed), _jsonable(row.expected)
                row.details = _jsonable(row.details)
            report.checks.extend(outcome.checks)
            report.metrics.update(_jsonable(outcome.metrics))
            report.figures.extend(outcome.figures)
            details[check.name] = outcome.details
            families[check.name] = _family_state(outcome)
        progress("done", 1.0)
    report.key_figure = _key_figure(families, report.metrics, subject.task)
    ran = [n for n, s in families.items() if s != "skipped"]
    report.score = sum(families[n] in ("passed", "warning") for n in ran) / len(ran) if ran else None
    report.extras = {"model": _model_info(subject), "families": families, "timings_s": timings,
                     "notes": subject.notes, "details": _jsonable(details)}
    if subject.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in subject.notes)
        report.sections.append(Section(title="Notes", html=f"<ul>{items}</ul>"))
    return report


def run_one(check: ModelCheck, subject: Subject) -> Outcome:
    """One check's outcome; an exception from the model becomes a failed row."""
    try:
        return check.run(subject)
    except MlgateError:
        raise
    except Exception as exc:  # the model under test may raise anything; report, don't crash
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        row = check.result(False, f"check could not complete: {type(exc).__name__}: {first}",
                           details={"exception": type(exc).__name__})
        return Outcome(checks=[row])


def _family_state(outcome: Outcome) -> str:
    """skipped, failed (a blocking row), warning (only non-blocking rows fell short) or passed."""
    if outcome.skipped:
        return "skipped"
    if any(c.blocks for c in outcome.checks):
        return "failed"
    return "passed" if all(c.passed for c in outcome.checks) else "warning"


def _key_figure(families: dict[str, str], metrics: dict[str, Any], task: str) -> str:
    ran = [s for s in families.values() if s != "skipped"]
    warned = ran.count("warning")
    text = f"{ran.count('passed') + warned}/{len(ran)} checks passed"
    if warned:
        text += f" ({warned} with warnings)"
    skipped = len(families) - len(ran)
    if skipped:
        text += f" ({skipped} skipped)"
    metric = headline_metric(task)
    if metric not in metrics:
        metric = headline_metric(task, has_proba=False)
    if metric in metrics:
        text += f", {metric} {metrics[metric]:.4f}"
    return text


def _model_info(subject: Subject) -> dict[str, Any]:
    m = subject.model
    return {"source": m.source, "version": m.version, "type": type(m.estimator).__name__,
            "task": subject.task, "features": list(subject.X.columns), "test_rows": len(subject.X),
            "reference_rows": None if subject.reference is None else len(subject.reference),
            "classes": None if subject.classes is None else subject.classes.tolist(),
            "seed": subject.seed}


def _jsonable(value: Any) -> Any:
    """Details with numpy scalars and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
