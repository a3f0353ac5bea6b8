"""Config references checked at load, through the console script: a column or metric the config
names that the data or the task does not have is exit 2 before any stage runs, naming the key,
its line and the closest valid name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# (what the example's mlgate.yaml says, the mistake, the key path, the closest valid name)
MISTAKES = [
    ("  target: target ", "  target: traget ", "data -> target", "'target'"),
    ("id_columns: [customer_id]", "id_columns: [customerid]", "data -> id_columns -> 0", "'customer_id'"),
    ("protected: [gender]", "protected: [gendre]", "data -> protected -> 0", "'gender'"),
    ("performance: {accuracy: 0.75, roc_auc: 0.75}", "performance: {accuracy: 0.75, roc_acu: 0.75}",
     "gates -> test -> performance -> roc_acu", "'roc_auc'"),
    ("performance: {accuracy: 0.75, roc_auc: 0.75}", "performance: {acuracy: 0.75, rmse: 3}",
     "gates -> test -> performance -> acuracy", "'accuracy'"),
]


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment.strip() in line)


@pytest.mark.parametrize(("original", "mistake", "key", "closest"), MISTAKES,
                         ids=["target", "id_columns", "protected", "metric", "metric-of-another-task"])
def test_config_mistake_is_exit_2_before_any_stage(mlgate_bin: list[str], churn_project: Path, original: str,
                                                  mistake: str, key: str, closest: str) -> None:
    config = churn_project / "mlgate.yaml"
    text = config.read_text()
    assert original in text
    text = text.replace(original, mistake)
    config.write_text(text)
    out = subprocess.run([*mlgate_bin, "run"], cwd=churn_project, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert out.stderr.startswith("Error: mlgate.yaml does not fit its data or task")
    assert f"{key} (line {_line_of(text, mistake)}):" in out.stderr
    assert f"did you mean {closest}?" in out.stderr
    assert not (churn_project / ".mlgate" / "runs").exists()  # no stage ran, no run recorded
    assert "validate" not in out.stdout


def test_metric_of_another_task_names_its_task(mlgate_bin: list[str], churn_project: Path) -> None:
    config = churn_project / "mlgate.yaml"
    config.write_text(config.read_text().replace("performance: {accuracy: 0.75, roc_auc: 0.75}",
                                                 "performance: {accuracy: 0.75, rmse: 3}"))
    out = subprocess.run([*mlgate_bin, "test"], cwd=churn_project, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2, out.stdout + out.stderr
    assert re.search(r"gates -> test -> performance -> rmse \(line \d+\): 'rmse' is a regression metric, "
                     r"not a binary metric \(binary metrics: accuracy, ", out.stderr), out.stderr
    assert "mae" not in out.stderr  # regression metrics are not offered for a binary task
