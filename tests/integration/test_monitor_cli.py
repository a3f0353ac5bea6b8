"""mlgate monitor end to end: the profile stored at registration in a real SQLite MLflow store, the
console script on a shifted batch, a prediction log with labels a day later, bad input, the pipeline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from _support.lifecycle import churn, fit, project, save
from mlgate.config import flags_only_config, load_config
from mlgate.context import StageContext, override, standalone_context
from mlgate.errors import RegistryError
from mlgate.monitor.stage import MonitorRequest, monitor
from mlgate.registration import RegisterOptions, run_register
from mlgate.serve.jsonlog import JsonLineWriter

pytestmark = pytest.mark.integration
SHIFTED = ["monthly_charges", "payment_method", "tenure_months"]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)


def _shift(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["monthly_charges"] = out["monthly_charges"] + 6.0
    out["tenure_months"] = (out["tenure_months"] * 1.3).round()
    out.loc[np.random.default_rng(0).random(len(out)) < 0.2, "payment_method"] = "credit-card"
    return out


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("monitor-project")
    (root / ".mlgate").mkdir()
    shutil.copy(mlflow_template, root / ".mlgate" / "mlflow.db")  # migrated once per session
    frame = churn(2400)
    cfg = project(root, frame, monitor={"critical": ["monthly_charges"]})
    model = fit(frame, rows=slice(0, 1200))
    save(model, root / "train" / "model", frame)
    report = run_register(StageContext(cfg, root / "register", upstream={"train": root / "train"}))
    assert report.extras["monitor_profile"].startswith("monitor profile"), report.extras["monitor_profile"]
    assert next(c for c in report.checks if c.name == "monitor_profile").passed
    return root, model


def test_pipeline_registration_warns_when_no_profile_can_be_stored(registered, tmp_path: Path) -> None:
    # the version is registered all the same; the user is told monitor will need --reference
    root, _ = registered
    cfg = override(load_config(root / "mlgate.yaml"),
                   {"data.train": "data/gone.csv", "registry.model_name": "churn-no-profile"})
    report = run_register(StageContext(cfg, tmp_path / "register", upstream={"train": root / "train"}))
    check = next(c for c in report.checks if c.name == "monitor_profile")
    assert report.passed and not check.passed and check.severity == "warning"
    assert "no monitor profile stored" in check.message and "gone.csv" in check.message, check.message


# the module's registration (fixture) takes about 4.5 s on a quiet 2-core machine, this test 4.5 s
# (the console script imports mlflow and skops to score the batch with the registered model)
def test_registered_profile_flags_the_shifted_columns(registered, mlgate_bin):
    root, _ = registered
    profile = json.loads((root / "register" / "profile.json").read_text())
    assert profile["meta"]["baseline"]["metric"] == "accuracy" and profile["meta"]["target"] == "target"
    _shift(churn(1500, seed=99)).drop(columns=["target"]).to_csv(root / "shifted.csv", index=False)
    done = _run([*mlgate_bin, "monitor", "--reference", "models:/churn@staging", "--current", "shifted.csv",
                 "-o", "out"], root)
    assert done.returncode == 1, done.stderr  # monthly_charges is critical
    body = json.loads((root / "out" / "report.json").read_text())
    drifted = sorted(r["column"] for r in body["drift"] if r["role"] == "feature" and r["outcome"] == "differs")
    assert drifted == SHIFTED
    assert any(r["role"] == "prediction" for r in body["drift"])  # the registered model scored the batch
    assert [c["column"] for c in body["checks"] if not c["passed"] and c["severity"] == "error"] == ["monthly_charges"]
    assert {"report.json", "junit.xml", "summary.md", "report.html"} <= {p.name for p in (root / "out").iterdir()}
    assert "Reference versus current" in (root / "out" / "report.html").read_text()
    assert "monthly_charges" in done.stdout and "FAILED" in done.stdout


def _write_log(folder: Path, model: object | None, rows: pd.DataFrame, days: int) -> pd.DataFrame:
    """The server's record shape through its own writer; labels arrive a day later, wrong on the last day."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    x = rows.drop(columns=["target", "customer_id"])
    probs = model.predict_proba(x) if model is not None else np.full((len(x), 2), 0.5)  # type: ignore[attr-defined]
    writer = JsonLineWriter(folder=folder)
    labels = []
    per_day = len(rows) // days
    for i, (record, p) in enumerate(zip(x.to_dict("records"), probs, strict=True)):
        day = min(i // per_day, days - 1)
        when = start + timedelta(days=day, minutes=i % 1400)
        pred = int(p[1] > 0.5)
        rid = f"req-{i}"
        inputs = {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
        writer.put({"time": when.isoformat(), "request_id": rid, "model_version": "1", "slot": "blue",
                    "endpoint": "/predict", "inputs": inputs, "prediction": pred, "probabilities": list(map(float, p))})
        truth = int(rows["target"].iloc[i])
        if day == days - 1 and i % 3 == 0:
            truth = 1 - pred  # an injected decay: a third of the last day's predictions turn wrong
        labels.append({"request_id": rid, "label": truth})
    writer.close()
    return pd.DataFrame(labels)


def test_prediction_log_with_delayed_labels_shows_windows_and_catches_decay(registered, mlgate_bin):
    root, model = registered
    labels = _write_log(root / "log", model, churn(1600, seed=5), days=4)
    labels.to_csv(root / "labels.csv", index=False)
    done = _run([*mlgate_bin, "monitor", "--reference", "models:/churn@staging", "--from-log", "log",
                 "--labels", "labels.csv", "--window", "24h", "-o", "perf"], root)
    body = json.loads((root / "perf" / "report.json").read_text())
    wins = body["performance"]["windows"]
    assert [w["rows"] for w in wins] == [400, 400, 400, 400]
    assert all(w["low"] <= w["value"] <= w["high"] for w in wins)
    decay = next(c for c in body["checks"] if c["name"] == "performance_decay")
    assert not decay["passed"] and done.returncode == 1, done.stdout
    assert wins[-1]["value"] < wins[0]["value"] - 0.1
    roles = {r["role"] for r in body["drift"]}
    assert roles == {"feature", "prediction", "target"}  # predictions from the log, target from the labels
    assert "Performance by window" in (root / "perf" / "report.html").read_text()


def test_bad_input_exits_2_with_a_message(mlgate_bin, tmp_path):
    root = tmp_path
    churn(1000, seed=7).to_csv(root / "reference.csv", index=False)
    base = churn(300, seed=8)
    cases = {
        "missing.csv": (base.drop(columns=["age"]), "lacks the reference column(s) 'age'"),
        "extra.csv": (base.assign(colour="red"), "has column(s) the reference does not: 'colour'"),
        "dtype.csv": (base.assign(age="old"), "column 'age' holds string values, the reference holds numeric"),
        "empty.csv": (base.head(0), "has no rows: an empty batch cannot be compared"),
    }
    ref = "reference.csv"
    for name, (frame, message) in cases.items():
        frame.to_csv(tmp_path / name, index=False)
        done = _run([*mlgate_bin, "monitor", "--reference", ref, "--current", str(tmp_path / name)], root)
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert message in " ".join(done.stderr.split()), (name, done.stderr)
        assert "Traceback" not in done.stderr
    _write_log(tmp_path / "log", None, base, days=1)
    pd.DataFrame({"request_id": ["req-1", "never-seen"], "label": [0, 1]}).to_csv(tmp_path / "l.csv", index=False)
    done = _run([*mlgate_bin, "monitor", "--reference", ref, "--from-log", str(tmp_path / "log"),
                 "--labels", str(tmp_path / "l.csv")], root)
    assert done.returncode == 2 and "request ids the prediction log does not have" in " ".join(done.stderr.split())


def test_register_by_hand_profiles_its_data_or_says_monitor_needs_a_reference(registered, mlgate_bin, tmp_path,
                                                                                monkeypatch):
    """`mlgate register --model PATH` outside a project, in the fixture's (already migrated) store."""
    root, _ = registered
    store = f"sqlite:///{root / '.mlgate' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    model = root / "train" / "model"
    done = subprocess.run([*mlgate_bin, "register", "--model", str(model), "--name", "by-hand", "--alias", "staging",
                           "--data", str(root / "data" / "train.csv"), "-o", "reg"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads((tmp_path / "reg" / "report.json").read_text())
    check = next(c for c in body["checks"] if c["name"] == "monitor_profile")
    assert check["passed"] and check["message"].startswith("monitor profile"), check
    _shift(churn(1500, seed=98)).drop(columns=["target"]).to_csv(tmp_path / "shifted.csv", index=False)
    report = monitor(MonitorRequest(reference="models:/by-hand@staging", current=tmp_path / "shifted.csv"),
                     None, tmp_path)  # the profile comes back from the registry; customer_id is ignored
    rows = report.extras["drift"]
    drifted = sorted(r["column"] for r in rows if r["role"] == "feature" and r["outcome"] == "differs")
    assert drifted == SHIFTED and any(r["role"] == "prediction" for r in report.extras["drift"])
    assert report.extras["reference"]["target"] == "target"
    assert "customer_id" not in {r["column"] for r in report.extras["drift"]}
    # the same batch as Parquet (text read as dictionaries, decoded for the model): the same table
    pd.read_csv(tmp_path / "shifted.csv").to_parquet(tmp_path / "shifted.parquet", index=False)
    again = monitor(MonitorRequest(reference="models:/by-hand@staging", current=tmp_path / "shifted.parquet"),
                    None, tmp_path)
    assert again.extras["drift"] == rows

    # neither --data nor mlgate.yaml: registered, with a warning saying what monitor needs instead
    bare = run_register(standalone_context("register", flags_only_config(tmp_path, "no-data"), model=str(model),
                                           output=tmp_path / "reg2"))
    check = next(c for c in bare.checks if c.name == "monitor_profile")
    assert bare.passed and not check.passed and check.severity == "warning"
    assert "needs --reference with the training data" in check.message
    # --data the model cannot score: still registered, the warning names the missing feature
    churn(300, seed=4).drop(columns=["age"]).to_csv(tmp_path / "no-age.csv", index=False)
    odd = run_register(standalone_context("register", flags_only_config(tmp_path, "odd-data"), model=str(model),
                                          output=tmp_path / "reg3"),
                       RegisterOptions(training_data=tmp_path / "no-age.csv"))
    check = next(c for c in odd.checks if c.name == "monitor_profile")
    assert odd.passed and not check.passed and "feature(s) 'age'" in check.message, check.message
    with pytest.raises(RegistryError, match="registered without training data .* Pass --reference"):
        monitor(MonitorRequest(reference="models:/no-data/1", current=tmp_path / "shifted.csv"), None, tmp_path)
    help_text = re.sub(r"[│\s]+", " ", _run([*mlgate_bin, "register", "--help"], tmp_path).stdout)  # rich's box
    assert "needs --reference with the training data" in help_text


def test_missing_paths_are_named_before_the_reference_is_read(mlgate_bin, tmp_path):
    done = _run([*mlgate_bin, "monitor", "--reference", "models:/churn@production", "--current", "nope.csv"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"--current {tmp_path / 'nope.csv'} does not exist" in " ".join(done.stderr.split())
    assert not (tmp_path / ".mlgate").exists()  # the registry was never opened
    done = _run([*mlgate_bin, "monitor", "--reference", "old.json", "--from-log", "log", "--labels", "l.csv"], tmp_path)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    for flag, name in (("--reference", "old.json"), ("--from-log", "log"), ("--labels", "l.csv")):
        assert f"{flag} {tmp_path / name} does not exist" in message
    assert "models:/NAME@ALIAS, a profile.json" in message


def test_run_only_monitor_in_a_project(mlgate_bin, tmp_path):
    root = tmp_path
    project(root, churn(1200))
    raw = yaml.safe_load((root / "mlgate.yaml").read_text())
    churn(800, seed=31).to_csv(root / "batch.csv", index=False)
    raw["monitor"] = {"reference": "data/train.csv", "current": "batch.csv"}
    (root / "mlgate.yaml").write_text(yaml.safe_dump(raw))
    done = _run([*mlgate_bin, "run", "--only", "monitor"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "monitor" in done.stdout
