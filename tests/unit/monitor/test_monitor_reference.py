"""The reference profile of a model: predictions as a column, the target, the evaluation baseline."""

from __future__ import annotations

import numpy as np

from _support.lifecycle import churn, fit
from mlgate.models import LoadedModel
from mlgate.monitor.drift import DriftSettings, column_drift
from mlgate.monitor.reference import PREDICTION, build_reference, load_reference


def test_reference_profile_holds_predictions_target_and_baseline(tmp_path):
    frame = churn(1600)
    model = LoadedModel(fit(frame, rows=slice(0, 800)), "test", info={"task": "binary"})
    train, test = frame.iloc[:800].drop(columns=["customer_id"]), frame.iloc[800:]
    profile = build_reference(train, target="target", model=model, test=test)
    spec = {c.name: c for c in profile.spec.columns}
    assert spec[PREDICTION].role == "prediction" and spec[PREDICTION].kind == "numeric"
    assert spec["target"].role == "target" and spec["target"].kind == "numeric"
    base = profile.meta["baseline"]
    predicted = model.estimator.predict(test.drop(columns=["target", "customer_id"]))
    assert base["n"] == 800 and base["k"] == int(np.sum(predicted == test["target"].to_numpy()))
    # written, read back as --reference PATH, and compared with itself: nothing drifts
    path = profile.write(tmp_path / "profile.json")
    again = load_reference(str(path), None, tmp_path)
    result = column_drift(again, profile, DriftSettings())
    assert result.drifted_features == [] and {c.role for c in result.columns} == {"feature", "prediction", "target"}
