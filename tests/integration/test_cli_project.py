"""Project-mode commands through the console script, as a user runs them in a repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration


def test_validate_infers_and_then_uses_a_schema_in_a_project(mlgate_bin: list[str], churn_project: Path) -> None:
    inferred = subprocess.run([*mlgate_bin, "validate", "--infer-schema", "schema.yaml"], cwd=churn_project,
                              capture_output=True, text=True, timeout=120)
    assert inferred.returncode == 0, inferred.stdout + inferred.stderr
    schema = yaml.safe_load((churn_project / "schema.yaml").read_text())
    # the churn example has customers up to 90; the inferred warning band lies inside the error range
    schema["columns"]["age"].update(max=60, warn_max=55)
    (churn_project / "schema.yaml").write_text(yaml.safe_dump(schema))
    checked = subprocess.run([*mlgate_bin, "validate", "--schema", "schema.yaml"], cwd=churn_project,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "out_of_range" in checked.stdout and "'age'" in checked.stdout
    assert (churn_project / "mlgate-reports" / "validate" / "report.json").exists()


def test_status_after_a_partial_run(mlgate_bin: list[str], churn_project: Path) -> None:
    run = subprocess.run([*mlgate_bin, "run", "--until", "validate"], cwd=churn_project,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (churn_project / ".mlgate" / "runs" / "latest" / "index.html").exists()
    status = subprocess.run([*mlgate_bin, "status"], cwd=churn_project, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "ran: validate" in status.stdout


def test_a_failing_gate_names_its_check_and_blocks_the_rest(mlgate_bin: list[str], churn_project: Path) -> None:
    config = yaml.safe_load((churn_project / "mlgate.yaml").read_text())
    config["tune"]["enabled"] = False
    config["models"] = [{"type": "logistic-regression"}]
    config["gates"]["test"]["performance"] = {"accuracy": 0.99}
    (churn_project / "mlgate.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([*mlgate_bin, "run"], cwd=churn_project, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "test: ✗ performance" in out.stdout and "below the minimum 0.99" in out.stdout
    assert out.stdout.count("blocked") >= 3
