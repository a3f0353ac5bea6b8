"""The monitor stage in the pipeline, and requests built from the config and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import UsageError
from mlgate.monitor.stage import MonitorOptions, input_marker, request_from_config
from mlgate.pipeline import select_stages


def _config(tmp_path: Path, **monitor):
    return config_from_dict({"project": "churn", "data": {"path": "data.csv"}, "monitor": monitor}, tmp_path)


def test_monitor_stage_is_off_until_configured(tmp_path):
    assert "monitor" not in [s.name for s in select_stages(_config(tmp_path))]
    with pytest.raises(UsageError, match="disabled"):
        select_stages(_config(tmp_path), only="monitor")
    on = _config(tmp_path, current="batch.csv")
    assert [s.name for s in select_stages(on, only="monitor")] == ["monitor"]


def test_a_new_batch_changes_the_stage_marker(tmp_path):
    cfg = _config(tmp_path, current="batch.csv")
    (tmp_path / "batch.csv").write_text("x\n1\n")
    before = input_marker(cfg)
    (tmp_path / "batch.csv").write_text("x\n1\n2\n")
    assert input_marker(cfg) != before


def test_request_from_config_and_flags(tmp_path):
    cfg = _config(tmp_path, from_log="log", window="12h", critical=["age"], columns={"age": {"material": 0.2}})
    request = request_from_config(cfg)
    assert request.reference == "models:/churn@production" and request.from_log == tmp_path / "log"
    assert request.window == "12h" and request.settings.columns["age"].critical
    assert request.settings.columns["age"].material == 0.2
    flagged = request_from_config(cfg, MonitorOptions(current="now.csv"))
    assert flagged.current == Path("now.csv").absolute()
    with pytest.raises(UsageError, match="exactly one"):
        request_from_config(_config(tmp_path))
    with pytest.raises(UsageError, match="--reference is needed"):
        request_from_config(None, MonitorOptions(current="now.csv"))
    with pytest.raises(UsageError, match="--labels are joined on request id"):
        request_from_config(None, MonitorOptions(reference="ref.csv", current="now.csv", labels="l.csv"))
