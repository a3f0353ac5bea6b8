"""A cancelled job (SIGTERM, as a CI runner sends) stops cleanly: no MLflow run left RUNNING."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml


def _statuses(db: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return [row[0] for row in con.execute("SELECT status FROM runs")]
    except sqlite3.Error:  # the store is still being created
        return []


@pytest.mark.parametrize(("sig", "code", "message"), [
    (signal.SIGTERM, 143, "Error: terminated (SIGTERM)"),  # a CI runner's cancel
    (signal.SIGINT, 130, "Error: interrupted"),            # Ctrl-C
])
def test_a_cancel_during_training_ends_the_open_runs(churn_project: Path, mlgate_bin: list[str],
                                                     sig: signal.Signals, code: int, message: str) -> None:
    config_file = churn_project / "mlgate.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["tune"] = {"enabled": False}
    config["models"] = [{"type": "random-forest", "params": {"n_estimators": 5000, "n_jobs": 1}}]
    config_file.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([*mlgate_bin, "train"], cwd=churn_project, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    db = churn_project / ".mlgate" / "mlflow.db"
    deadline = time.monotonic() + 120
    while "RUNNING" not in _statuses(db):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no run started within 120 s"
        time.sleep(0.2)
    # into the fit (a signal inside MLflow's create_run is test_runs_abandon.py's case)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert message in err and "Traceback" not in err
    assert _statuses(db) == ["KILLED"]
