"""``mlgate train`` and ``mlgate tune`` outside ``mlgate run``: flags over the config.

Flags override the config for this call only: ``--model-type`` (repeatable) replaces the
candidate list (keeping configured params of the same type), ``--params FILE`` overrides
hyper-parameters, ``--data`` the training table. A standalone ``mlgate train`` picks up
the newest ``best_params.yaml`` of a previous ``mlgate tune`` or pipeline tune stage. The
context is ``mlgate.context.standalone_context``'s, with the one output root of standalone
runs, ``./mlgate-reports/<stage>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate._paths import report_dir
from mlgate.config import config_from_dict, parse_yaml
from mlgate.errors import ConfigError
from mlgate.locations.refs import DataRef, as_ref
from mlgate.runs import RunStore
from mlgate.train.stage import BEST_PARAMS_FILE, run_train, run_tune
from mlgate.train.zoo import get_model_type

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.context import StageContext
    from mlgate.reports.model import Report

def override(config: Config, *, model_types: list[str] | None = None,
             params: dict[str, Any] | None = None, data: DataRef | None = None,
             tune: dict[str, Any] | None = None, candidates: list[str] | None = None) -> Config:
    """A copy of ``config`` with command-line overrides applied and re-validated."""
    raw = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    if candidates:  # --candidate NAME: one job of a CI train matrix trains just that one
        labels = [m.label for m in config.models]
        unknown = [c for c in candidates if c not in labels]
        if unknown:
            raise ConfigError(f"--candidate {unknown[0]!r} is not a candidate in models; "
                              f"candidates: {', '.join(labels)}")
        raw["models"] = [m for m, label in zip(raw.get("models", []), labels, strict=True) if label in candidates]
    for name in model_types or ():
        get_model_type(name)  # the flag's own error, rather than "mlgate.yaml is invalid"
    if model_types:
        configured = {m["type"]: m for m in raw.get("models", [])}
        raw["models"] = [configured.get(t, {"type": t}) for t in model_types]
    if params:
        raw["models"] = _apply_params(raw.get("models", []), params)
    if data is not None:
        keep = {k: v for k, v in raw["data"].items() if k not in ("train", "test", "path", "split")}
        raw["data"] = {**keep, "train": str(as_ref(data))}  # an object URI as given, a path made absolute
    if tune:
        raw["tune"] = {**raw.get("tune", {}), **{k: v for k, v in tune.items() if v is not None}}
    return config_from_dict(raw, config.root, source=config.source)


def _apply_params(models: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """``{label_or_type: {param: value}}`` per model, or one flat mapping for every model."""
    keys = {m.get("name") or m["type"] for m in models} | {m["type"] for m in models}
    per_model = all(isinstance(v, dict) for v in params.values()) and bool(set(params) & keys)
    strays = sorted(set(params) - keys) if per_model else []
    if strays:
        raise ConfigError(f"--params names {strays[0]!r}, which is not a candidate; candidates: "
                          f"{', '.join(sorted(keys))}")
    out = []
    for m in models:
        extra = ({**params.get(m["type"], {}), **params.get(m.get("name") or m["type"], {})}
                 if per_model else params)
        out.append({**m, "params": {**m.get("params", {}), **extra}})
    return out


def read_params_file(path: Path) -> dict[str, Any]:
    """A ``--params`` YAML: a mapping of hyper-parameters, or of model name to mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read --params file {path}: {exc.strerror}") from exc
    doc = parse_yaml(text, Path(path))
    if not isinstance(doc, dict):
        raise ConfigError(f"--params file {path} must hold a mapping like "
                          "{n_estimators: 200} or {random-forest: {n_estimators: 200}}")
    return doc


def latest_tune_dir(config: Config) -> Path | None:
    """The folder of the newest best_params.yaml: a standalone `mlgate tune` or the pipeline's."""
    found = [report_dir(config.root, "tune")]
    pipeline_tune = RunStore(config.root).stage_dirs().get("tune")
    if pipeline_tune is not None:
        found.append(pipeline_tune)
    files = [d / BEST_PARAMS_FILE for d in found if (d / BEST_PARAMS_FILE).exists()]
    if not files:
        return None
    return max(files, key=lambda f: f.stat().st_mtime).parent


def run_standalone(ctx: StageContext, stage: str, progress: Any = None) -> tuple[Report, Path]:
    """Run the train or tune stage by itself in ``ctx`` (``mlgate.context.standalone_context``'s,
    made by the caller: context sits above the stage packages); the caller writes the report files."""
    tuned = latest_tune_dir(ctx.config) if stage == "train" else None
    ctx.upstream = {"tune": tuned} if tuned is not None else {}  # train reads only tune's output
    if progress is not None:
        ctx.progress = progress
    report = (run_train if stage == "train" else run_tune)(ctx)
    return report, ctx.out_dir
