"""Live performance: labels joined on request id, windows with intervals, decay against the baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.errors import DataError, UsageError
from mlgate.monitor.performance import join_labels, judge_latest, log_frame, parse_window, read_labels, windows
from mlgate.serve.jsonlog import JsonLineWriter

START = datetime(2026, 3, 1, tzinfo=UTC)


def write_log(folder: Path, days: int = 4, per_day: int = 300, decay_last: bool = False,
              seed: int = 0) -> pd.DataFrame:
    """A prediction log in the server's record format (through its writer), and the labels that
    arrive a day later: 85% of predictions right, 65% on the last day when ``decay_last``."""
    rng = np.random.default_rng(seed)
    writer = JsonLineWriter(folder=folder)
    labels = []
    for day in range(days):
        for i in range(per_day):
            rid = f"r{day}-{i}"
            when = START + timedelta(days=day, seconds=int(rng.integers(0, 86_399)))
            p = float(rng.random())
            pred = int(p > 0.5)
            right = rng.random() < (0.65 if decay_last and day == days - 1 else 0.85)
            writer.put({"time": when.isoformat(), "request_id": rid, "model_version": "1", "slot": "blue",
                        "endpoint": "/predict", "inputs": {"x": float(rng.normal()), "c": str(rng.choice(["a", "b"]))},
                        "prediction": pred, "probabilities": [1 - p, p]})
            labels.append({"request_id": rid, "label": pred if right else 1 - pred})
    writer.close()
    return pd.DataFrame(labels)


def test_parse_window():
    assert parse_window("24h") == 86_400 and parse_window("30m") == 1800 and parse_window("1h30m") == 5400
    for bad in ("", "24", "h", "2 parsecs", "0h"):
        with pytest.raises(UsageError, match="--window"):
            parse_window(bad)


def test_windows_with_intervals_and_a_caught_decay(tmp_path):
    labels = write_log(tmp_path / "log", decay_last=True)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    joined = join_labels(log_frame(tmp_path / "log"), read_labels(tmp_path / "labels.csv"), "labels.csv")
    wins = windows(joined, parse_window("24h"), "binary")
    assert [w.rows for w in wins] == [300] * 4
    assert all(w.low < w.value < w.high for w in wins)
    assert wins[0].start == "2026-03-01T00:00:00+00:00"
    baseline = {"metric": "accuracy", "k": 850, "n": 1000, "value": 0.85}
    decay = judge_latest(wins, baseline, alpha=0.01, material=0.02, min_rows=50)
    assert decay is not None and decay.decayed and decay.comparison.effect < -0.1
    healthy = judge_latest(wins[:-1], baseline, alpha=0.01, material=0.02, min_rows=50)
    assert healthy is not None and not healthy.decayed
    pooled = judge_latest(wins, None, alpha=0.01, material=0.02, min_rows=50)  # no stored baseline
    assert pooled is not None and pooled.decayed and pooled.baseline["source"] == "earlier windows"


def test_no_false_decay_on_healthy_logs(tmp_path):
    baseline = {"metric": "accuracy", "k": 850, "n": 1000, "value": 0.85}
    alarms = 0
    for seed in range(10):
        labels = write_log(tmp_path / f"log{seed}", days=2, seed=seed)
        joined = join_labels(log_frame(tmp_path / f"log{seed}"), labels, "labels")
        decay = judge_latest(windows(joined, 86_400, "binary"), baseline, alpha=0.01, material=0.02, min_rows=50)
        alarms += bool(decay and decay.decayed)
    assert alarms <= 1


def test_small_latest_window_is_undecided(tmp_path):
    labels = write_log(tmp_path / "log", days=2, per_day=20)
    joined = join_labels(log_frame(tmp_path / "log"), labels, "labels")
    decay = judge_latest(windows(joined, 86_400, "binary"), None, alpha=0.01, material=0.02, min_rows=50)
    assert decay is not None and decay.undecided and not decay.decayed and "at least 50" in decay.message


def test_labels_for_unknown_request_ids_are_a_data_error(tmp_path):
    labels = write_log(tmp_path / "log", days=1, per_day=10)
    extra = pd.concat([labels, pd.DataFrame({"request_id": ["nope"], "label": [1]})])
    with pytest.raises(DataError, match="1 of 11 labels are for request ids the prediction log does not have"):
        join_labels(log_frame(tmp_path / "log"), extra.assign(row=0), "labels.csv")


def test_bad_labels_and_log_folders(tmp_path):
    pd.DataFrame({"id": [1], "label": [0]}).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(DataError, match="has no column 'request_id'"):
        read_labels(tmp_path / "l.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no prediction records"):
        log_frame(tmp_path / "empty")
    with pytest.raises(DataError, match="not a folder"):
        log_frame(tmp_path / "l.csv")
