"""A real deploy setup for tests and benchmarks: a project, a SQLite registry with churn versions, a server.

Versions are registered through mlgate's own register path: "good" versions are logistic
regressions on the churn example, a "broken" version is the same preprocessing in front of
a classifier that always answers the minority class.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

ID_COLUMNS = ("customer_id", "target")
ADMIN_KEY = "test-admin-key"


def model_folder(folder: Path, kind: str = "good", seed: int = 0, n_rows: int = 1500,
                 drop: tuple[str, ...] = ()) -> Path:
    """Save a churn model: ``good`` (logistic regression) or ``broken`` (always the minority class);
    ``drop``: features it is not given."""
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlgate.examples.churn import generate
    from mlgate.models import save_model

    frame = generate(n_rows, seed=seed + 1)
    X, y = frame.drop(columns=[*ID_COLUMNS, *drop]), frame["target"]
    categorical = [c for c in X.columns if X[c].dtype.kind not in "biuf"]
    numeric = [c for c in X.columns if c not in categorical]
    pre = ColumnTransformer([("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])
    minority = int(y.value_counts().idxmin())
    final = (LogisticRegression(max_iter=500) if kind == "good"
             else DummyClassifier(strategy="constant", constant=minority))
    pipeline = Pipeline([("pre", pre), ("model", final)]).fit(X, y)
    info = {"name": "churn", "model_type": kind, "task": "binary", "target": "target", "features": list(X.columns),
            "dtypes": {c: str(X[c].dtype) for c in X.columns}, "classes": [0, 1]}
    return save_model(pipeline, folder, info, X.head(5))


def project(root: Path, template: Path | None = None, port: int = 0, **deploy: Any) -> Path:
    """A project folder with mlgate.yaml (registry in .mlgate/, environments on loopback)."""
    root.mkdir(parents=True, exist_ok=True)
    if template is not None:
        (root / ".mlgate").mkdir(exist_ok=True)
        shutil.copy(template, root / ".mlgate" / "mlflow.db")
    raw = {"project": "churn", "data": {"path": "data.csv"}, "registry": {"model_name": "churn"},
           "serve": {"rate_limit": "off", "prediction_log": None},
           "environments": {"production": {"url": f"http://127.0.0.1:{port}"},
                            "staging": {"url": "http://127.0.0.1:9"}},
           # the tests and benchmarks run on busy CI machines: latency is not what they check
           "deploy": {"smoke_requests": 5, "max_p95_ms": 5000, **deploy}}
    (root / "mlgate.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return root / "mlgate.yaml"


def register(config_path: Path, folder: Path, alias: str = "staging") -> str:
    """Register a model folder; return its version."""
    from mlgate.config import load_config
    from mlgate.context import standalone_context
    from mlgate.registration import run_register

    ctx = standalone_context("register", load_config(config_path), model=str(folder),
                             settings={"registry.alias": alias})
    report = run_register(ctx)
    return str(report.metrics["version"])


def set_port(config_path: Path, port: int) -> None:
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    raw["environments"]["production"]["url"] = f"http://127.0.0.1:{port}"
    config_path.write_text(yaml.safe_dump(raw), encoding="utf-8")


def request_bodies(n: int = 200, seed: int = 99) -> list[dict[str, Any]]:
    """``/predict`` bodies of fresh churn rows (the load's mix of both classes)."""
    import json

    from mlgate.examples.churn import generate

    frame = generate(n, seed=seed).drop(columns=list(ID_COLUMNS))
    rows = json.loads(frame.to_json(orient="records"))
    return [{"features": row} for row in rows]


def admin_env() -> dict[str, str]:
    return {**os.environ, "MLGATE_ADMIN_KEY": ADMIN_KEY}


def mlgate_command(args: list[str], cfg: Path) -> list[str]:
    import sys

    script = Path(sys.executable).with_name("mlgate")
    return [str(script), *args, "--config", str(cfg)]


def start_paused(args: list[str], cfg: Path, step: str, timeout: float = 120.0,
                 env: dict[str, str] | None = None) -> Any:
    """Start ``mlgate ARGS`` through the console script and return it once it says it paused at ``step``
    (``MLGATE_TEST_PAUSE_AT``); the caller kills it. Fails with its output when it ends first."""
    import select
    import subprocess
    import time

    run_env = {**admin_env(), "MLGATE_TEST_PAUSE_AT": step, **(env or {})}
    proc = subprocess.Popen(mlgate_command(args, cfg), env=run_env, cwd=cfg.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if f"paused at step {step}" in line:
                return proc
        elif proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    raise AssertionError(f"`mlgate {' '.join(args)}` never paused at {step!r}:\n{''.join(seen)[-3000:]}")


def served(url: str) -> tuple[Any, ...]:
    """What the server gives clients, as ``EnvState.traffic()``: stable, canary, weight, shadow, share."""
    import httpx

    from mlgate.deploy.state import traffic
    from mlgate.roles import SIDE_ROLES

    state = httpx.get(f"{url}/admin/state", headers={"X-Admin-Key": ADMIN_KEY}, timeout=10).json()
    slots = state["slots"]
    return traffic(slots.get("stable"), {r.name: (slots.get(r.name), float(state[str(r.share_field)]))
                                         for r in SIDE_ROLES})


def time_to_agree(url: str, cfg: Path, since: float, bound: float) -> tuple[float, tuple[Any, ...]]:
    """Seconds from ``since`` (time.monotonic) until the server and the registry name the same
    traffic; an AssertionError when they still differ after ``bound`` seconds."""
    import time

    from mlgate.config import load_config
    from mlgate.serve.desired import RegistryWatch

    watch = RegistryWatch(load_config(cfg), "production")
    while True:
        wanted, got = watch.traffic(), served(url)
        if wanted == got:
            return time.monotonic() - since, got
        if time.monotonic() - since > bound:
            raise AssertionError(f"server {got} and registry {wanted} still differ {bound} s after the kill")
        time.sleep(0.05)
