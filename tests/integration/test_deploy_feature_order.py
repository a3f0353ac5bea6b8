"""A .joblib fitted on the served features in another order deploys: `mlgate register --model x.joblib`
then `mlgate deploy` (console script) onto a real `mlgate serve --env production` (uvicorn on
127.0.0.1). List-form requests keep the served order and reach the right columns, as named ones
do, also after the server restarts. (A version with other features is refused naming them:
tests/integration/test_deploy.py, test_failed_self_test_is_never_switched_to.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import pytest

import _support.deploy as S
from mlgate.serve.process import ServerProcess, free_port

pytestmark = pytest.mark.integration


def _fit(frame: pd.DataFrame, columns: list[str]) -> Any:
    """The churn pipeline of the served version (imputer, scaler, one-hot), fitted on ``columns`` in that order."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in columns if frame[c].dtype.kind not in "biuf"]
    numeric = [c for c in columns if c not in categorical]
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical),
                                  (make_pipeline(SimpleImputer(), StandardScaler()), numeric))
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(frame[columns], frame["target"])


def _mlgate(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("mlgate")), *args, "--config", str(cfg)],
                          cwd=cfg.parent, env=S.admin_env(), capture_output=True, text=True, timeout=300)


def _registered(cfg: Path, model: Path, data: Path, out: Path) -> str:
    result = _mlgate(cfg, "register", "--model", str(model), "--data", str(data), "--trust", "--output", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return str(json.loads((out / "report.json").read_text())["metrics"]["version"])


def _predict(url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{url}/predict", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_joblib_in_another_feature_order_deploys_and_list_rows_are_reordered(
        tmp_path: Path, mlflow_template: Path) -> None:
    from mlgate.examples.churn import generate

    port = free_port()
    cfg = S.project(tmp_path / "project", template=mlflow_template, port=port)
    served = S.model_folder(tmp_path / "m1", "good", 0)
    assert S.register(cfg, served, "production") == "1"
    order = json.loads((served / "mlgate.json").read_text())["features"]
    frame = generate(1500, seed=5)
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    reversed_order = order[::-1]
    estimator = _fit(frame, reversed_order)
    joblib.dump(estimator, tmp_path / "x.joblib")

    rows = json.loads(generate(20, seed=11)[order].to_json(orient="records"))
    expected = estimator.predict_proba(pd.DataFrame(rows)[reversed_order])[:, 1].round(6).tolist()
    server = ServerProcess("", config_path=cfg, port=port, admin_key=S.ADMIN_KEY, timeout=180,
                           extra_args=["--env", "production"])
    with server:
        version = _registered(cfg, tmp_path / "x.joblib", data, tmp_path / "reg-x")
        deployed = _mlgate(cfg, "deploy", "--env", "production", "--strategy", "blue-green", "--version", version,
                           "--output", str(tmp_path / "deploy-x"))
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        info = httpx.get(f"{server.url}/model-info", timeout=10).json()
        assert info["version"] == version
        assert info["features"] == order and info["model_feature_order"] == reversed_order, info
        # a list in the served order reaches the columns a named row does, and the model's own answer
        for row, want in zip(rows[:5], expected, strict=False):
            listed = _predict(server.url, {"features": [row[n] for n in order]})
            named = _predict(server.url, {"features": row})
            assert listed["probability"] == named["probability"], (listed, named)
            assert listed["probability"] == pytest.approx(want, abs=1e-6) and listed["model_version"] == version
        batch = _predict(server.url, {"instances": [[r[n] for n in order] for r in rows]})
        assert batch["probabilities"] == pytest.approx(expected, abs=1e-6)
        short = httpx.post(f"{server.url}/predict", json={"features": [1, 2]}, timeout=10)
        assert short.status_code == 422 and ", ".join(order) in short.json()["message"], short.text

    # restarted with version 2 alone, the server keeps the order its clients send lists in
    with ServerProcess("", config_path=cfg, port=port, admin_key=S.ADMIN_KEY, timeout=180,
                       extra_args=["--env", "production"]) as again:
        info = httpx.get(f"{again.url}/model-info", timeout=10).json()
        assert info["version"] == version and info["features"] == order, info
        listed = _predict(again.url, {"features": [rows[0][n] for n in order]})
        assert listed["probability"] == pytest.approx(expected[0], abs=1e-6)
