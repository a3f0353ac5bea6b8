"""``mlgate monitor`` and the pipeline's monitor stage: reference, current batch, drift, performance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate._paths import file_stats
from mlgate.config import MonitorColumn, MonitorConfig
from mlgate.errors import DataError, UsageError
from mlgate.locations.dvc import tracked
from mlgate.locations.refs import DataRef, as_ref, check, fingerprints
from mlgate.models import load_model
from mlgate.monitor.batches import decoded, frame_source, open_dataset, profile_source
from mlgate.monitor.distributed import profile_on_dask
from mlgate.monitor.drift import DriftSettings, column_drift
from mlgate.monitor.performance import (
    join_labels,
    judge_latest,
    log_frame,
    parse_window,
    read_labels,
    window_index,
    windows,
)
from mlgate.monitor.profile import TableProfile
from mlgate.monitor.push import push_drift
from mlgate.monitor.reference import load_reference, scores
from mlgate.monitor.report import build_report

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Config
    from mlgate.context import StageContext
    from mlgate.monitor.performance import Decay, Window
    from mlgate.reports.model import Report


@dataclass
class MonitorRequest:
    """Everything one monitor run needs; the CLI and the pipeline stage both build one."""

    reference: str
    current: DataRef | None = None  # a Path, or an object URI (mlgate.locations.refs)
    from_log: Path | None = None
    labels: DataRef | None = None
    window: str = "24h"
    settings: DriftSettings = field(default_factory=DriftSettings)
    performance_alpha: float = 0.01
    performance_material: float = 0.02
    min_window_rows: int = 50
    push: str | None = None
    dask: str | None = None

    def __post_init__(self) -> None:
        if (self.current is None) == (self.from_log is None):
            raise UsageError("give the current data as --current PATH or the server's log as --from-log DIR "
                             "(exactly one; or set monitor.current or monitor.from_log in mlgate.yaml)")
        if self.labels is not None and self.from_log is None:
            raise UsageError("--labels are joined on request id with the prediction log: give --from-log DIR too")


@dataclass(frozen=True)
class MonitorOptions:
    """``mlgate monitor``'s flags: each one given (not None) replaces its key of the ``monitor:`` section;
    ``mlgate run`` monitors with none given."""

    reference: str | None = None  # models:/NAME@ALIAS, a profile.json or training data
    current: DataRef | None = None
    from_log: Path | None = None
    window: str | None = None
    labels: DataRef | None = None
    push: str | None = None
    dask: str | None = None  # a scheduler address: the current files profiled on that cluster


def request_from_config(config: Config | None, options: MonitorOptions | None = None) -> MonitorRequest:
    """A request from the ``monitor:`` section, each given flag taking precedence."""
    section = config.monitor if config else MonitorConfig()
    flags = options or MonitorOptions()

    def path(value: DataRef | None, key: str) -> DataRef | None:
        if value is not None:  # a flag: relative to where the command runs
            return as_ref(value)
        raw = getattr(section, key)
        return None if raw is None else (config.data_ref(raw) if config else as_ref(raw))

    reference = flags.reference
    if reference and not str(reference).startswith("models:/"):
        reference = str(as_ref(reference))  # a flag's path is relative to the cwd; a URI stays as given
    reference = reference or section.reference
    if reference is None:
        if config is None:
            raise UsageError("--reference is needed without an mlgate.yaml: models:/NAME@ALIAS, a profile.json "
                             "or the training data")
        reference = f"models:/{config.model_name}@production"
    # a --current or --from-log flag replaces the config's source, whichever kind it is
    given = flags.current is not None or flags.from_log is not None
    current = path(flags.current, "current") if not given or flags.current else None
    from_log = path(flags.from_log, "from_log") if not given or flags.from_log else None
    return MonitorRequest(reference=str(reference), current=current,
                          from_log=Path(from_log) if from_log is not None else None,
                          labels=path(flags.labels, "labels"),
                          window=flags.window or section.window, settings=drift_settings(section),
                          performance_alpha=section.performance_alpha,
                          performance_material=section.performance_material,
                          min_window_rows=section.min_window_rows, push=flags.push or section.push,
                          dask=flags.dask)


def drift_settings(section: MonitorConfig) -> DriftSettings:
    columns = dict(section.columns)
    for name in section.critical:
        columns[name] = (columns.get(name) or MonitorColumn()).model_copy(update={"critical": True})
    return DriftSettings(columns, section.drift_share, section.correction)


def monitor(request: MonitorRequest, config: Config | None = None, root: Path | None = None) -> Report:
    """Run drift (and live performance when labels are given) and return the report."""
    t0 = time.perf_counter()
    root = root or (config.root if config else Path.cwd())
    check_paths(request, root)
    reference = load_reference(request.reference, config, root)
    _check_overrides(request.settings, reference)
    wins: list[Window] | None = None
    decay: Decay | None = None
    if request.from_log is not None:
        current, wins, decay = _from_log(request, reference)
    else:
        assert request.current is not None
        current = current_profile(request.current, reference, request.dask, config)
    result = column_drift(reference, current, request.settings)
    report = build_report(result, reference, current, wins, decay)
    if request.push:
        report.extras["pushed"] = push_drift(request.push, result, decay, reference)
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def check_paths(request: MonitorRequest, root: Path) -> None:
    """DataError naming every given path that does not exist, before the reference (a registry
    download, or a pass over the training data) or the current data is read."""
    given: list[tuple[str, DataRef | None]] = [("--current", request.current), ("--from-log", request.from_log),
                                               ("--labels", request.labels)]
    if not request.reference.startswith("models:/"):
        given.insert(0, ("--reference", as_ref(request.reference, root)))
    for flag, ref in given:
        if isinstance(ref, str):  # an object URI: missing, refused or unreachable, said before any reading
            check(ref, flag)
    missing = [f"{flag} {path} does not exist" for flag, path in given
               if isinstance(path, Path) and not path.exists() and tracked(path) is None]
    if missing:
        hint = "; --reference takes models:/NAME@ALIAS, a profile.json written at registration, or a data " \
               "file or folder" if any(m.startswith("--reference") for m in missing) else ""
        raise DataError(f"{'; '.join(missing)}{hint}. Relative paths start at the current folder "
                        "(in mlgate.yaml: at the project folder)")


def _check_overrides(settings: DriftSettings, reference: TableProfile) -> None:
    known = set(reference.spec.names)
    unknown = [c for c in settings.columns if c not in known]
    if unknown:
        raise UsageError(f"monitor.columns / monitor.critical name column(s) the reference profile does not have: "
                         f"{', '.join(map(repr, unknown))} (profiled: {', '.join(reference.spec.names)})")


def _optional_columns(reference: TableProfile) -> list[str]:
    """Columns the current data may lack: the predictions and the target (labels arrive later)."""
    return [c.name for c in reference.spec.columns if c.role != "feature"]


def current_profile(path: DataRef, reference: TableProfile, dask: str | None = None,
                    config: Config | None = None) -> TableProfile:
    """Profile the current data on the reference's spec, in batches (or per file on a Dask cluster).

    When the reference is a registered model and the data has no prediction column, the model
    scores each batch, so prediction drift is judged too."""
    if dask:
        profile = profile_on_dask(dask, path, reference.spec, allow_missing=_optional_columns(reference))
    else:
        source = open_dataset(path)
        profile = profile_source(source, reference.spec, where=str(path), allow_missing=_optional_columns(reference),
                                 transform=_scorer(reference, source.schema.names, config))
    if profile.rows == 0:
        raise DataError(f"{path} has no rows: an empty batch cannot be compared with the reference")
    return profile


def _scorer(reference: TableProfile, names: list[str], config: Config | None) -> Any:
    """A batch transform adding the registered model's predictions, or None when not needed."""
    column, uri = reference.meta.get("prediction"), str(reference.meta.get("reference") or "")
    if not column or column in names or not uri.startswith("models:/"):
        return None

    model = load_model(uri, config)
    features = model.features or [c.name for c in reference.spec.columns if c.role == "feature"]
    missing = [f for f in features if f not in names]
    if missing:
        return None  # check_columns names the missing columns
    import pyarrow as pa

    def add(batch: pa.RecordBatch) -> pa.RecordBatch:
        frame = decoded(batch.select(features)).to_pandas()
        # from_arrays, not RecordBatch.append_column: pyarrow 14 (the lower bound) has no such method
        return pa.RecordBatch.from_arrays([*batch.columns, pa.array(scores(model, frame))],
                                          names=[*batch.schema.names, column])

    return add


def _from_log(request: MonitorRequest, reference: TableProfile) -> tuple[TableProfile, list[Window] | None,
                                                                           Decay | None]:
    """The latest window of the prediction log as the current batch; the performance trend when labelled."""
    assert request.from_log is not None
    seconds = parse_window(request.window)
    log = log_frame(request.from_log)
    bucket = window_index(log["when"], seconds)
    latest = log[bucket == bucket.max()]
    wins = decay = None
    target = reference.meta.get("target")
    if request.labels is not None:
        joined = join_labels(log, read_labels(request.labels), str(request.labels))
        if joined.empty:
            raise DataError(f"{request.labels}: no label matches a logged prediction")
        wins = windows(joined, seconds, reference.meta.get("task"))
        material = request.performance_material if wins and wins[-1].metric == "accuracy" else \
            max(request.performance_material, 0.1)
        decay = judge_latest(wins, reference.meta.get("baseline"), alpha=request.performance_alpha,
                             material=material, min_rows=request.min_window_rows)
        labelled = joined[window_index(joined["when"], seconds) == bucket.max()]
        if target:
            latest = latest.merge(labelled[["request_id", "row", "label"]].rename(columns={"label": target}),
                                  on=["request_id", "row"], how="left")
    return _profile_log_rows(latest, reference, str(request.from_log)), wins, decay


def _profile_log_rows(rows: pd.DataFrame, reference: TableProfile, where: str) -> TableProfile:
    frame = rows.drop(columns=["request_id", "time", "model_version", "row", "when", "prediction"])
    prediction = reference.meta.get("prediction")
    frame = frame.rename(columns={"score": prediction}) if prediction else frame.drop(columns=["score"])
    ids = [c for c in reference.spec.ignored if c in frame.columns]
    if rows.empty:
        raise DataError(f"{where}: the latest window holds no predictions")
    return profile_source(frame_source(frame.drop(columns=ids)), reference.spec,
                          where=f"the latest window of the prediction log {where}",
                          allow_missing=[*_optional_columns(reference), *reference.spec.ignored])


def run_monitor(ctx: StageContext, options: MonitorOptions | None = None) -> Report:
    """The monitor stage: the ``monitor:`` section of mlgate.yaml, each flag of ``mlgate monitor``
    given in ``options`` taking precedence. In a folder without mlgate.yaml (``ctx.bare``) the
    flags alone say what to read."""
    config = None if ctx.bare else ctx.config
    request = request_from_config(config, options)
    ctx.progress("profiling the current data", 0.2)
    return monitor(request, config, ctx.config.root)


def input_marker(config: Config) -> dict[str, Any] | None:
    """Size and modification time of the files monitor reads, so a new batch re-runs the stage."""
    section = config.monitor
    marker: dict[str, Any] = {}
    local: dict[str, str] = {}  # inputs the no-op replay may re-list itself (registry.peek)
    for key in ("current", "from_log", "labels"):
        raw = getattr(section, key)
        if not raw:
            continue
        path = config.data_ref(raw) if key != "from_log" else config.resolve(raw)
        if isinstance(path, str):  # objects: their ETags (HEAD requests), not their bytes
            marker[key] = sorted(fingerprints([path], {}, str).items())
            continue
        marker[key] = file_stats(path)
        local[key] = str(path)
        if not path.exists() and (found := tracked(path)) is not None:  # DVC-tracked, not pulled yet
            marker[key] = [[str(path), found[0].md5]]
            del local[key]
    if not marker:
        return None
    return {"monitor": marker, "local": local} if len(local) == len(marker) else {"monitor": marker}
