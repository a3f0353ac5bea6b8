"""The demo path end to end: real SQLite MLflow store, real server on loopback, real smoke."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    import sys

    script = Path(sys.executable).with_name("mlgate")
    folder = tmp_path_factory.mktemp("demo") / "mlgate-demo"
    out = subprocess.run([str(script), "demo", "--dir", str(folder), "--rows", "5000"],
                         capture_output=True, text=True, timeout=600)
    return folder, out


Demo = tuple[Path, subprocess.CompletedProcess[str]]


def test_demo_finishes_and_registers_a_version_with_an_alias(demo_run: Demo) -> None:
    folder, out = demo_run
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "smoke: PASSED" in out.stdout
    assert "mlflow ui --backend-store-uri" in out.stdout

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{folder / '.mlgate' / 'mlflow.db'}"
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias("churn", "staging")
    assert str(version.version) == "1"  # MLflow 3.17 gives an int here, older clients a str
    assert version.tags["mlgate.model_sha256"]


def test_demo_writes_reports_for_every_stage(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = demo_run
    run_dir = (folder / ".mlgate" / "runs" / "latest").resolve()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["passed"] is True
    names = [s["name"] for s in record["stages"]]
    # the deployment test the demo runs after the pipeline is a stage of the run's pages too
    assert names == ["validate", "tune", "train", "test", "evaluate", "compare", "register", "monitor", "smoke"]
    for name in names:
        for report in ("report.json", "junit.xml", "summary.md", "report.html"):
            assert (run_dir / name / report).exists(), f"{name}/{report}"
    assert json.loads((run_dir / "smoke" / "report.json").read_text())["passed"] is True
    index = (run_dir / "index.html").read_text()
    for name in names:
        assert f'<a href="{name}/report.html">report</a>' in index, name
    import xml.etree.ElementTree as ET

    suites = [s.get("name") for s in ET.parse(run_dir / "junit.xml").getroot()]
    assert suites == [f"mlgate.{n}" for n in names]


def test_second_run_in_the_demo_folder_skips_every_stage(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]], mlgate_bin: list[str]) -> None:
    folder, _ = demo_run
    out = subprocess.run([*mlgate_bin, "run"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "All 8 stages unchanged" in out.stdout  # with the example's monitor stage
    record = json.loads(((folder / ".mlgate" / "runs" / "latest").resolve() / "run.json").read_text())
    assert {s["status"] for s in record["stages"]} == {"cached"}


def test_changed_config_reruns_only_the_affected_stages(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]], mlgate_bin: list[str]) -> None:
    folder, _ = demo_run
    config = folder / "mlgate.yaml"
    config.write_text(config.read_text().replace("thresholds: {roc_auc: 0.75, accuracy: 0.75}",
                                                 "thresholds: {roc_auc: 0.7, accuracy: 0.7}"))
    out = subprocess.run([*mlgate_bin, "run", "--until", "evaluate"], cwd=folder, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    record = json.loads(((folder / ".mlgate" / "runs" / "latest").resolve() / "run.json").read_text())
    status = {s["name"]: s["status"] for s in record["stages"]}
    assert status == {"validate": "cached", "tune": "cached", "train": "cached", "test": "cached",
                      "evaluate": "ran"}


def test_moving_the_production_alias_reruns_compare(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]], mlgate_bin: list[str]) -> None:
    from mlflow.tracking import MlflowClient

    folder, _ = demo_run
    first = subprocess.run([*mlgate_bin, "run"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr
    uri = f"sqlite:///{folder / '.mlgate' / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias("churn", "production", "1")
    out = subprocess.run([*mlgate_bin, "run"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    record = json.loads(((folder / ".mlgate" / "runs" / "latest").resolve() / "run.json").read_text())
    status = {s["name"]: s["status"] for s in record["stages"]}
    assert status["train"] == "cached" and status["compare"] == "ran"
    compare = json.loads(((folder / ".mlgate" / "runs" / "latest").resolve() / "compare" / "report.json").read_text())
    assert "no production model" not in compare["key_figure"]


def test_moving_the_registered_alias_by_hand_is_named_not_undone(demo_run: Demo, mlgate_bin: list[str]) -> None:
    """`mlgate run --only register` never shows a version the alias no longer points at as if it
    still did, and does not undo the move (a deploy or rollback did it on purpose)."""
    from mlflow.tracking import MlflowClient

    folder, _ = demo_run
    uri = f"sqlite:///{folder / '.mlgate' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def register(*extra: str) -> dict[str, str]:
        out = subprocess.run([*mlgate_bin, "run", "--only", "register", *extra], cwd=folder,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr
        record = json.loads(((folder / ".mlgate" / "runs" / "latest").resolve() / "run.json").read_text())
        return next(s for s in record["stages"] if s["name"] == "register")

    first = register()
    assert first["status"] == "cached" and "alias" not in first["message"]
    staged = client.get_model_version_by_alias("churn", "staging")
    # another version registered and aliased by hand through MLflow
    other = client.create_model_version("churn", staged.source, run_id=staged.run_id)
    client.set_registered_model_alias("churn", "staging", str(other.version))
    stage = register()
    assert stage["status"] == "cached"
    assert (f"registered v{staged.version}" in stage["message"]
            and f"alias 'staging' now names v{other.version}" in stage["message"])
    assert client.get_model_version_by_alias("churn", "staging").version == other.version  # not undone
    forced = register("--force")
    now = client.get_model_version_by_alias("churn", "staging")
    assert forced["status"] == "ran" and int(now.version) > int(other.version)
    assert register()["status"] == "cached" and "alias" not in register()["message"]
