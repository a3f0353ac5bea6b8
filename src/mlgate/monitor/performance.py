"""Live performance: labels that arrive later, joined with the server's prediction log, per time window.

The server logs one record per predicted row (``time``, ``request_id``, ``inputs``, ``prediction``,
``probabilities``); a batch request logs its rows in order under one request id. A labels file
(CSV or Parquet) holds ``request_id``, ``label`` and, for batch requests, ``row`` (0-based position
in the request). Rows are grouped into windows of ``--window`` aligned on UTC epoch (24h windows are
calendar days); each window gets the task's metric with a 95% interval (Wilson for accuracy, t for
the mean absolute error). The latest window is judged against the evaluation baseline stored in the
reference profile (or, without one, the earlier windows pooled) with the statistics core: Fisher's
exact test on the count of correct predictions (classification), Mann-Whitney on the absolute errors
(regression); it decays when significantly worse by at least the materiality floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import load_table, require_columns
from mlgate.errors import DataError, UsageError
from mlgate.serve.jsonlog import read_prediction_log
from mlgate.stats import compare_proportions, compare_samples, differs

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.locations.refs import DataRef

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str) -> float:
    """Seconds in a window like ``24h``, ``30m``, ``7d`` or ``1h30m``.

    >>> parse_window("1h30m")
    5400.0
    """
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip().lower())
    if not parts or re.sub(r"[\d.\s]+[smhdw]", "", text.strip().lower()):
        raise UsageError(f"--window {text!r}: expected a duration like 24h, 30m, 7d or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError(f"--window {text!r} must be longer than zero")
    return seconds


def log_frame(folder: Path) -> pd.DataFrame:
    """The prediction log as a frame: one row per predicted row, with ``row`` (position in its
    request), ``when`` (UTC timestamp), ``score`` and the request's inputs as columns."""
    import pandas as pd

    if not folder.is_dir():
        raise DataError(f"--from-log {folder}: not a folder; give the server's prediction-log folder "
                        "(serve.prediction_log, default .mlgate/predictions)")
    records = read_prediction_log(folder)
    if not records:
        raise DataError(f"--from-log {folder} holds no prediction records (predictions.*.jsonl); "
                        "is the server writing its prediction log there?")
    inputs = pd.DataFrame([r.get("inputs") or {} for r in records])
    meta = pd.DataFrame({"request_id": [str(r.get("request_id", "")) for r in records],
                         "time": [r.get("time") for r in records],
                         "model_version": [r.get("model_version") for r in records],
                         "prediction": [r.get("prediction") for r in records],
                         "score": [_score(r) for r in records]})
    meta["row"] = meta.groupby("request_id").cumcount()
    meta["when"] = pd.to_datetime(meta["time"], utc=True, errors="coerce", format="ISO8601")
    bad = int(meta["when"].isna().sum())
    if bad == len(meta):
        raise DataError(f"--from-log {folder}: no record has a readable ISO 8601 'time'")
    return pd.concat([meta, inputs], axis=1)[meta["when"].notna().to_numpy()].reset_index(drop=True)


def _score(record: dict[str, Any]) -> Any:
    probs = record.get("probabilities")
    if isinstance(probs, list) and len(probs) == 2:
        return float(probs[-1])  # the positive class, as the server's `probability`
    return record.get("prediction")


def read_labels(path: DataRef) -> pd.DataFrame:
    """``request_id``, ``label`` and optional ``row`` from a CSV or Parquet file."""
    labels = load_table(path)
    require_columns(labels, ["request_id", "label"], f"labels file {path}")
    extra = [c for c in labels.columns if c not in ("request_id", "label", "row", "time")]
    if extra:
        raise DataError(f"labels file {path} has unexpected column(s) {', '.join(map(repr, extra))}; "
                        "expected request_id, label and optionally row (position in a batch request)")
    out = labels.assign(request_id=labels["request_id"].astype(str))
    if "row" not in out.columns:
        out["row"] = 0
    return out[["request_id", "row", "label"]]


def join_labels(log: pd.DataFrame, labels: pd.DataFrame, where: str) -> pd.DataFrame:
    """Log rows that have a label; labels for request ids the log never saw are an error."""
    labels = labels.assign(request_id=labels["request_id"].astype(str))
    if "row" not in labels.columns:
        labels = labels.assign(row=0)
    known = set(log["request_id"])
    unknown = labels.loc[~labels["request_id"].isin(known), "request_id"]
    if len(unknown):
        shown = ", ".join(map(repr, list(dict.fromkeys(unknown))[:3]))
        raise DataError(f"{where}: {len(unknown)} of {len(labels)} labels are for request ids the prediction "
                        f"log does not have (e.g. {shown}); labels must come from the same server's log "
                        "(or its rotated files were removed)")
    dup = labels.duplicated(["request_id", "row"])
    if dup.any():
        raise DataError(f"{where}: {int(dup.sum())} labels repeat a (request_id, row) pair; give one label per "
                        "predicted row (add a 'row' column for batch requests)")
    return log.merge(labels, on=["request_id", "row"], how="inner")


@dataclass
class Window:
    """One time window's metric with its 95% interval."""

    start: str
    end: str
    rows: int
    metric: str
    value: float
    low: float
    high: float
    k: int = 0
    errors: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "rows": self.rows, "metric": self.metric,
                "value": self.value, "low": self.low, "high": self.high}


def windows(joined: pd.DataFrame, seconds: float, task: str | None) -> list[Window]:
    """The metric per window (accuracy for classification, mean absolute error otherwise), oldest first."""
    import numpy as np
    import pandas as pd

    bucket = window_index(joined["when"], seconds)
    out = []
    for b, group in joined.groupby(bucket, sort=True):
        start = datetime.fromtimestamp(float(b) * seconds, UTC)
        end = datetime.fromtimestamp(float(b + 1) * seconds, UTC)
        span = (start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds"))
        if _is_classification(task, group):
            k = int((group["prediction"].astype(str) == group["label"].astype(str)).sum())
            low, high = _wilson(k, len(group))
            out.append(Window(*span, len(group), "accuracy", k / len(group), low, high, k=k))
        else:
            err = np.abs(pd.to_numeric(group["prediction"], errors="coerce").to_numpy(float)
                         - pd.to_numeric(group["label"], errors="coerce").to_numpy(float))
            err = err[~np.isnan(err)]
            if not len(err):
                continue
            low, high = _t_interval(err)
            out.append(Window(*span, len(group), "mae", float(err.mean()), low, high, errors=err.tolist()))
    return out


def window_index(when: pd.Series, seconds: float) -> pd.Series:
    """The window number of each UTC timestamp, windows aligned on the epoch."""
    import pandas as pd

    elapsed = (when - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return (elapsed // seconds).astype("int64")


def _is_classification(task: str | None, group: pd.DataFrame) -> bool:
    if task:
        return task in ("binary", "multiclass")
    return not all(isinstance(v, float) for v in group["prediction"].head(20))


def _wilson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _t_interval(err: Any) -> tuple[float, float]:
    from scipy import stats

    if len(err) < 2:
        return float(err.mean()), float(err.mean())
    low, high = stats.t.interval(0.95, len(err) - 1, loc=float(err.mean()), scale=float(stats.sem(err)))
    return float(low), float(high)


@dataclass(frozen=True)
class Decay:
    """The latest window against the baseline: the core's comparison and whether it is worse."""

    latest: Window
    baseline: dict[str, Any]
    comparison: Any
    decayed: bool
    undecided: bool
    message: str


def judge_latest(wins: list[Window], baseline: dict[str, Any] | None, *, alpha: float, material: float,
                 min_rows: int) -> Decay | None:
    """Is the latest window significantly and materially worse than the baseline?"""
    if not wins:
        return None
    latest = wins[-1]
    base = baseline if baseline and baseline.get("metric") == latest.metric else _pooled(wins[:-1])
    if base is None:
        return Decay(latest, {}, None, False, True, "no baseline: the reference has no evaluation baseline and "
                     "there is only one window")
    name = f"{latest.metric} {latest.value:.3f} [{latest.low:.3f}, {latest.high:.3f}] in the window from {latest.start}"
    if latest.rows < min_rows:
        return Decay(latest, base, None, False, True, f"{name}: {latest.rows} labelled rows, at least {min_rows} "
                     "are needed to judge a window; undecided")
    if latest.metric == "accuracy":
        cmp = compare_proportions(int(base["k"]), int(base["n"]), latest.k, latest.rows)
        worse = cmp.effect < 0
    else:
        cmp = compare_samples(base["errors"], latest.errors, method="mannwhitney")
        worse = latest.value > float(base["value"])
    decayed = worse and differs(cmp, alpha=alpha, material=material)
    tail = "significantly worse: decay" if decayed else "not significantly worse"
    msg = (f"{name} versus baseline {float(base['value']):.3f} ({base.get('source', 'evaluation')}, n {base['n']}): "
           f"effect {cmp.effect:+.3f} (material {material:g}), p {cmp.p_value:.2g} (alpha {alpha:g}): {tail}")
    return Decay(latest, base, cmp, decayed, False, msg)


def _pooled(earlier: list[Window]) -> dict[str, Any] | None:
    if not earlier:
        return None
    n = sum(w.rows for w in earlier)
    if earlier[0].metric == "accuracy":
        k = sum(w.k for w in earlier)
        return {"metric": "accuracy", "k": k, "n": n, "value": k / n, "source": "earlier windows"}
    errors = [e for w in earlier for e in w.errors]
    return {"metric": "mae", "n": len(errors), "value": sum(errors) / len(errors), "errors": errors,
            "source": "earlier windows"}
