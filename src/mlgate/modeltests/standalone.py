"""``mlgate test`` outside the pipeline: a model path or URI, data files and flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import UsageError

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.modeltests.runner import Progress
    from mlgate.reports.model import Report


@dataclass
class TestRequest:
    """What the command line asked for; None means "from mlgate.yaml, else a default"."""

    __test__ = False  # not a pytest test class

    model: str | None = None
    data: Path | None = None
    reference: Path | None = None
    target: str | None = None
    protected: list[str] = field(default_factory=list)
    checks: list[str] | None = None


def run_request(req: TestRequest, cfg: Config | None, progress: Progress | None = None) -> Report:
    """Resolve model, data and thresholds from the flags and the config, then run the checks."""
    from mlgate.config import TestGate
    from mlgate.data.io import load_table
    from mlgate.models import load_model
    from mlgate.modeltests.runner import build_checks, build_subject, run_checks

    gate = cfg.gates.test if cfg else TestGate()
    checks = build_checks(gate, req.checks if req.checks else gate.checks)
    model_spec, from_pipeline = _model_spec(req.model, cfg)
    if progress:
        progress("loading the model", 0.0)
    loaded = load_model(model_spec, cfg)
    if cfg is not None and cfg.task and not loaded.info.get("task"):
        loaded.info["task"] = cfg.task
    target = req.target or (cfg.data.target if cfg else None)
    fit_rows = None
    if req.data is not None:
        data = load_table(req.data)
        reference = load_table(req.reference) if req.reference else None
    elif cfg is not None:
        dataset = _dataset(cfg)
        data = dataset.test
        reference = load_table(req.reference) if req.reference else dataset.train
        target = target or dataset.target
        if from_pipeline and req.reference is None:
            from mlgate.modeltests.stage import _fit_rows

            fit_rows = _fit_rows(loaded.info, dataset.train, dataset.target,
                                 int(loaded.info.get("seed", cfg.seed)))
    else:
        raise UsageError("no test data: pass --data FILE (a CSV or Parquet file with the target "
                         "column), or run inside a project with mlgate.yaml")
    protected = req.protected or (list(cfg.data.protected) if cfg else [])
    seed = loaded.info.get("seed", cfg.seed if cfg else None)
    subject = build_subject(loaded, data, reference=reference, target=target, protected=protected,
                            seed=None if seed is None else int(seed), fit_rows=fit_rows)
    return run_checks(subject, checks, progress, gate.threads)


def _model_spec(model: str | None, cfg: Config | None) -> tuple[str, bool]:
    """``--model``, else the model folder of the project's last passing train stage."""
    if model:
        return model, False
    if cfg is None:
        raise UsageError("no model: pass --model PATH|URI (an MLflow model folder, a .joblib/.pkl "
                         "file or models:/NAME@ALIAS), or run inside a project with mlgate.yaml")
    from mlgate.pipeline import Pipeline

    train = Pipeline(cfg).stage_dirs().get("train")
    if train is None or not (train / "model").exists():
        raise UsageError("no trained model yet: pass --model PATH|URI, or run "
                         "`mlgate run --until train` first")
    return str(train / "model"), True


def _dataset(cfg: Config) -> Any:
    from mlgate.data.io import load_dataset

    return load_dataset(cfg)


def split_list(values: list[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``: flags given repeated or comma-separated."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]
