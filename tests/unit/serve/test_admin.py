"""The admin endpoints and per-slot access of one in-process server (a real app, Starlette's client)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from _support.serve import shared_model
from mlgate.errors import ModelLoadError  # noqa: E402
from mlgate.serve.admin import admin_denied  # noqa: E402
from mlgate.serve.auth import hash_key  # noqa: E402
from mlgate.serve.converge import commit_plan  # noqa: E402
from mlgate.serve.plan import ModelRef  # noqa: E402

KEY = "admin-secret-key"
ADMIN = {"X-Admin-Key": KEY}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_model(tmp_path_factory.getbasetemp())


def app_for(model_dir: Path, admin: str | None = KEY) -> Any:
    from mlgate.serve.app import create_app
    from mlgate.serve.settings import ServeSettings

    settings = ServeSettings(model_path=str(model_dir), model_source=str(model_dir), model_version="1",
                             admin_key_hash=hash_key(admin) if admin else None, rate_limit="off",
                             access_log=True)
    return create_app(settings)


@pytest.fixture
def client(model_dir: Path) -> Iterator[TestClient]:
    with TestClient(app_for(model_dir)) as c:
        yield c


def body(c: TestClient) -> dict[str, Any]:
    return {"features": c.get("/model-info").json()["input_example"]}


def served(c: TestClient) -> str:
    return str(c.post("/predict", json=body(c)).json()["model_version"])


def stage(c: TestClient, version: str, path: Path) -> None:
    """Stage a version as the candidate the way /admin/stage does once it has resolved the version."""
    dep = c.app.state.server.deployment  # type: ignore[attr-defined]
    plan = dep.state.current().stage(ModelRef(version, str(path)), "candidate")
    asyncio.run(commit_plan(dep.state, plan, dep.workers, timeout=30))


def test_admin_key_is_checked() -> None:
    digest = hash_key(KEY)
    assert admin_denied({"x-admin-key": KEY}, digest) is None
    assert admin_denied({"x-admin-key": "wrong"}, digest)[0] == 401  # type: ignore[index]
    assert admin_denied({}, digest)[0] == 401  # type: ignore[index]
    assert admin_denied({"x-admin-key": KEY}, None)[0] == 403  # type: ignore[index]


def test_admin_endpoints_refuse_without_the_key(client: TestClient, model_dir: Path) -> None:
    assert client.get("/admin/state").status_code == 401
    assert client.post("/admin/rollback", headers={"X-Admin-Key": "nope"}).status_code == 401
    assert client.get("/_slot/stable/model-info").status_code == 401
    assert client.get("/admin/state", headers=ADMIN).json()["slots"] == {"stable": "1"}
    with TestClient(app_for(model_dir, admin=None)) as open_server:
        refused = open_server.get("/admin/state", headers=ADMIN)
        assert refused.status_code == 403 and "MLGATE_ADMIN_KEY" in refused.json()["message"]


def test_stage_smoke_switch_and_rollback(client: TestClient, model_dir: Path) -> None:
    stage(client, "2", model_dir)
    assert served(client) == "1"  # a staged candidate takes no traffic
    info = client.get("/_slot/candidate/model-info", headers=ADMIN).json()
    assert info["version"] == "2"
    slot = client.post("/_slot/candidate/predict", json=body(client), headers=ADMIN)
    assert slot.json()["model_version"] == "2"
    switched = client.post("/admin/switch", headers=ADMIN).json()
    assert switched["slots"] == {"stable": "2", "previous": "1"} and served(client) == "2"
    assert client.post("/admin/rollback", headers=ADMIN).json()["slots"]["stable"] == "1"
    assert served(client) == "1"
    assert client.get("/_slot/canary/predict", headers=ADMIN).status_code == 404


def test_canary_route_and_observations(client: TestClient, model_dir: Path) -> None:
    dep = client.app.state.server.deployment  # type: ignore[attr-defined]
    plan = dep.state.current().stage(ModelRef("3", str(model_dir)), "canary")
    asyncio.run(commit_plan(dep.state, plan, 1, timeout=30))
    assert client.post("/admin/route", json={"canary": 150}, headers=ADMIN).status_code == 409
    assert client.post("/admin/route", json={"canary": 50}, headers=ADMIN).json()["canary_weight"] == 50
    seen = {client.post("/predict", json=body(client), headers={"X-Client-Id": f"c{i}"}).json()["model_version"]
            for i in range(40)}
    assert seen == {"1", "3"}
    rows = client.get("/admin/observations", headers=ADMIN).json()["rows"]
    assert {r[1] for r in rows} <= {"canary", "baseline", "stable"} and len(rows) == 40
    assert client.post("/admin/discard", json={"role": "canary"}, headers=ADMIN).json()["slots"] == {"stable": "1"}


def test_a_candidate_failing_its_self_test_is_never_committed(client: TestClient, model_dir: Path,
                                                                 tmp_path: Path) -> None:
    broken = tmp_path / "other-features"
    shutil.copytree(model_dir, broken)
    info = json.loads((broken / "mlgate.json").read_text())
    info["features"] = info["features"][:-1]  # one feature short (another order would be taken)
    (broken / "mlgate.json").write_text(json.dumps(info))
    dep = client.app.state.server.deployment  # type: ignore[attr-defined]
    before = dep.state.committed()
    with pytest.raises(ModelLoadError, match="failed its self-test"):
        stage(client, "9", broken)
    assert dep.state.committed() == before
    assert client.post("/admin/switch", headers=ADMIN).status_code == 409  # nothing staged
    assert served(client) == "1"


def test_the_admin_key_is_never_logged(model_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with TestClient(app_for(model_dir)) as c:
        c.get("/admin/state", headers=ADMIN)
        c.get("/admin/state", headers={"X-Admin-Key": "wrong-key-value"})
    c.app.state.server.close()  # type: ignore[attr-defined]
    out, err = capfd.readouterr()
    assert "/admin/state" in err
    assert KEY not in out + err and "wrong-key-value" not in out + err
