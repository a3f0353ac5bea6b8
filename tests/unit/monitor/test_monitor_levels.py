"""Categorical columns with many levels, and dates in CSV files, as monitor profiles them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from mlgate.monitor.batches import frame_source, kept_levels, open_dataset, profile_reference, profile_source
from mlgate.monitor.profile import MAX_LEVELS
from mlgate.monitor.stage import MonitorRequest, monitor


def _drifted(tmp_path: Path, reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    reference.to_csv(tmp_path / "ref.csv", index=False)
    current.to_csv(tmp_path / "cur.csv", index=False)
    report = monitor(MonitorRequest(reference=str(tmp_path / "ref.csv"), current=tmp_path / "cur.csv"))
    return [c.column for c in report.checks if c.name == "feature_drift" and not c.passed]


def test_many_near_equal_levels_are_not_drift_when_both_samples_come_from_one_distribution(tmp_path: Path) -> None:
    """123 dates about equally often: the 50 most frequent in the reference were those it happened to
    hold more of, so every other sample held fewer of them; 46 of 50 such samples were flagged. All
    levels are kept now; a real shift of 200 levels is still caught."""
    names = np.array([f"2001-{i:03d}" for i in range(123)])
    for seed in range(8):
        rng = np.random.default_rng(seed)
        ref = pd.DataFrame({"day": rng.choice(names, 420), "x": rng.normal(size=420)})
        cur = pd.DataFrame({"day": rng.choice(names, 140), "x": rng.normal(size=140)})
        assert _drifted(tmp_path, ref, cur) == [], seed
    rng = np.random.default_rng(1)
    levels = np.array([f"L{i}" for i in range(200)])
    weights = np.where(np.arange(200) < 100, 2.0, 1.0)
    ref = pd.DataFrame({"code": rng.choice(levels, 4000), "x": rng.normal(size=4000)})
    cur = pd.DataFrame({"code": rng.choice(levels, 4000, p=weights / weights.sum()), "x": rng.normal(size=4000)})
    assert _drifted(tmp_path, ref, cur) == ["code"]


def test_beyond_the_level_limit_the_kept_levels_do_not_depend_on_their_counts() -> None:
    few = Counter({"b": 3, "a": 3, "c": 9})
    assert kept_levels(few) == ["c", "a", "b"]  # all, most frequent first
    many = Counter({f"v{i}": 5 for i in range(MAX_LEVELS + 500)})
    chosen = set(kept_levels(many))
    assert len(chosen) == MAX_LEVELS
    skewed = Counter({level: (50 if level not in chosen else 1) for level in many})  # the others far more frequent
    assert set(kept_levels(skewed)) == chosen


def test_csv_dates_are_text_as_pandas_reads_them_and_a_data_reference_leaves_them_out(tmp_path: Path) -> None:
    """A registered model's profile comes from training data read by pandas (dates as text); the
    current CSV gave pyarrow's date32 and monitor stopped: 'holds date32[day] values, the reference
    holds string values', exit 2."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2020-01-01", periods=30).strftime("%Y-%m-%d").to_numpy()
    frame = pd.DataFrame({"day": rng.choice(days, 600), "x": rng.normal(size=600)})
    frame.to_csv(tmp_path / "cur.csv", index=False)
    source = open_dataset(tmp_path / "cur.csv")
    assert str(source.schema.field("day").type) == "string" and source.dates == ["day"]
    trained = profile_reference(frame_source(pd.read_csv(tmp_path / "cur.csv")))  # as the model's profile is made
    assert trained.spec.column("day").kind == "categorical"
    streamed = profile_source(source, trained.spec).to_dict()["columns"]["day"]
    # (the dates only: pandas 2.1's CSV parser reads some floats 1 ulp off pyarrow's, in x's sample)
    assert streamed == profile_source(frame_source(pd.read_csv(tmp_path / "cur.csv")), trained.spec).to_dict()[
        "columns"]["day"]
    report = monitor(MonitorRequest(reference=str(tmp_path / "cur.csv"), current=tmp_path / "cur.csv"))
    assert report.metrics["features"] == 1  # x; the dates left out, as Parquet dates are
