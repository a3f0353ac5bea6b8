"""Deploying for real: `mlgate serve --env production` (uvicorn on loopback) over a SQLite MLflow
registry, switched by mlgate's deploy library and console script while client threads send
steady load.

Versions: 1 and 2 are good logistic regressions (different training samples), 3 always
answers the minority class.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import _support.deploy as S
from _support.load import Load
from mlgate.config import Config, load_config
from mlgate.serve.process import ServerProcess, free_port

pytestmark = pytest.mark.integration
CANARY = {"steps": [25, 50, 100], "error_rate": {"material": 0.01, "min_requests": 60},
          "latency": {"material": 0.2, "min_requests": 60}, "predictions": {"material": 0.1, "min_requests": 60}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    root = tmp_path_factory.mktemp("deploy")
    cfg = S.project(root / "project", template=mlflow_template, canary=CANARY, keep_previous_s=600)
    assert S.register(cfg, S.model_folder(root / "m1", "good", 0), "production") == "1"
    assert S.register(cfg, S.model_folder(root / "m2", "good", 1)) == "2"
    assert S.register(cfg, S.model_folder(root / "m3", "broken", 0)) == "3"
    return cfg


def registry(cfg: Path) -> Any:
    from mlgate.deploy.state import Registry

    return Registry(load_config(cfg))


def reset(cfg: Path) -> None:
    """Production at version 1 with no canary or shadow."""
    reg = registry(cfg)
    reg.set_alias("production", "1")
    reg.set_side("production", "canary", None)
    reg.set_side("production", "shadow", None)


def start(project: Path, workers: int) -> ServerProcess:
    port = free_port()
    S.set_port(project, port)
    return ServerProcess("", config_path=project, port=port, admin_key=S.ADMIN_KEY, timeout=180,
                         extra_args=["--env", "production", "--workers", str(workers)])


@pytest.fixture(scope="module")
def running(project: Path) -> Iterator[ServerProcess]:
    """One server for the module; each test resets it through the registry and /admin/reload."""
    reset(project)
    with start(project, 1) as proc:
        yield proc


@pytest.fixture
def server(project: Path, running: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> ServerProcess:
    from mlgate.deploy.client import AdminClient

    monkeypatch.setenv("MLGATE_ADMIN_KEY", S.ADMIN_KEY)
    S.set_port(project, running.port)
    reset(project)
    with AdminClient(running.url, S.ADMIN_KEY) as admin:
        slots = admin.reload()["slots"]
    assert slots["stable"] == "1" and "canary" not in slots and "shadow" not in slots, slots
    return running


BODIES = S.request_bodies()


def example(url: str) -> dict[str, Any]:
    return {"features": httpx.get(f"{url}/model-info").json()["input_example"]}


def config(cfg: Path) -> Config:
    return load_config(cfg)


def _switch_under_load(project: Path, server: ServerProcess) -> None:
    from mlgate.deploy.actions import deploy, rollback

    with Load(server.url, BODIES, threads=4) as load:
        load.wait_for(40)
        report = deploy(config(project), "production", strategy="blue-green", version="2")
        switched = time.time()
        load.wait_for(80)
        rolling = time.time()
        back = rollback(config(project), "production")
        rolled = time.time()
        load.wait_for(40)
    assert report.passed, [c.message for c in report.failures]
    assert back.passed, [c.message for c in back.failures]
    assert load.failed == [], load.failed[:3]
    versions = [a.version for a in load.answers]
    assert versions[0] == "1" and "2" in versions
    # once the switch returned, no worker answered from the old version (until the rollback)
    after = {a.version for a in load.answers if switched < a.sent and a.done < rolling}
    assert after == {"2"}, after
    assert {a.version for a in load.answers if a.sent > rolled} == {"1"}
    assert registry(project).alias("production") == "1"
    events = registry(project).history(5)
    assert [e.action for e in events[:2]] == ["rollback", "deploy"]
    assert (events[1].from_version, events[1].to_version, events[1].strategy) == ("1", "2", "blue-green")


def test_blue_green_switch_under_load_one_worker(project: Path, server: ServerProcess) -> None:
    _switch_under_load(project, server)


@pytest.mark.slow
def test_blue_green_switch_under_load_two_workers(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_ADMIN_KEY", S.ADMIN_KEY)
    reset(project)
    with start(project, 2) as server:
        _switch_under_load(project, server)


def test_broken_canary_is_rolled_back_by_analysis(project: Path, server: ServerProcess) -> None:
    from mlgate.deploy.actions import canary, deploy

    started = deploy(config(project), "production", strategy="canary", version="3", percent=50)
    assert started.passed, [c.message for c in started.failures]
    assert registry(project).env_state("production").canary == "3"
    with Load(server.url, BODIES, threads=4) as load:
        load.wait_for(300)
        report = canary(config(project), "production", "analyze")
        done = time.time()
        load.wait_for(40)
    assert load.failed == []
    assert report.extras["verdict"] == "rollback"
    assert not report.passed
    assert "predictions" in [c.name for c in report.failures]
    state = registry(project).env_state("production")
    assert (state.stable, state.canary, state.canary_weight) == ("1", None, 0.0)
    assert registry(project).history(1)[0].action == "canary-rollback"
    # stable answers came from version 1 throughout; each client id kept its slot
    by_client: dict[str, set[str | None]] = {}
    for a in load.answers:
        if a.sent < done - 1:
            by_client.setdefault(a.client, set()).add(a.version)
    assert all(len(v) == 1 for v in by_client.values())
    assert {a.version for a in load.answers} <= {"1", "3"}
    assert {a.version for a in load.answers if a.sent > done} == {"1"}
    assert "canary" not in httpx.get(f"{server.url}/admin/state", headers={"X-Admin-Key": S.ADMIN_KEY}).json()["slots"]


def test_good_canary_is_promoted_through_its_steps(project: Path, server: ServerProcess) -> None:
    from mlgate.deploy.actions import canary, deploy

    assert deploy(config(project), "production", strategy="canary", version="2").passed
    verdicts = []
    with Load(server.url, BODIES, threads=4) as load:
        for _ in range(2):  # 25% -> 50% -> production
            load.wait_for(400)
            report = canary(config(project), "production", "analyze")
            verdicts.append((report.extras["verdict"], report.extras["action"]))
            assert report.extras["verdict"] == "promote", [c.message for c in report.checks]
        load.wait_for(40)
    assert verdicts == [("promote", "promoted to 50%"), ("promote", "promoted to production")], verdicts
    assert load.failed == []
    state = registry(project).env_state("production")
    assert (state.stable, state.canary) == ("2", None)
    assert [e.action for e in registry(project).history(3)] == ["canary-promote", "canary-step", "canary-start"]
    assert load.answers[-1].version == "2"


def test_shadow_answers_no_client_and_reports_agreement(project: Path, server: ServerProcess) -> None:
    from mlgate.deploy.actions import canary, deploy

    assert deploy(config(project), "production", strategy="shadow", version="3", percent=100).passed
    with Load(server.url, BODIES, threads=3) as load:
        load.wait_for(150)
        report = canary(config(project), "production", "analyze", dry_run=True)
    assert {a.version for a in load.answers} == {"1"}
    assert load.failed == []
    assert report.metrics["agreement"] < 1.0  # the broken shadow answers the minority class
    assert report.extras["verdict"] == "rollback" and report.extras["action"] == "would roll back"
    assert registry(project).env_state("production").shadow == "3"  # dry run: nothing acted on


def test_a_strategy_reusing_a_role_is_one_class(project: Path, server: ServerProcess,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A dark launch (every request copied to the new version) is the shadow role at 100%: one
    class and its entry in STRATEGIES; serve, the registry and the analysis need nothing new."""
    from typing import ClassVar

    from mlgate.deploy.actions import canary, deploy
    from mlgate.deploy.context import DeployContext
    from mlgate.deploy.strategies import STRATEGIES, SideSlot
    from mlgate.roles import SHADOW, Role

    class DarkLaunch(SideSlot):
        name: ClassVar[str] = "dark-launch"
        role: ClassVar[Role] = SHADOW

        def default_share(self, ctx: DeployContext) -> float:
            return 100.0

    monkeypatch.setitem(STRATEGIES._table(), DarkLaunch.name, DarkLaunch)  # as its entry in the table
    report = deploy(config(project), "production", strategy="dark-launch", version="2")
    assert report.passed, [c.message for c in report.failures]
    started = next(c for c in report.checks if c.name == "shadow_started")
    assert "receives a copy of 100% of production's requests" in started.message
    assert registry(project).env_state("production").sides() == {"canary": (None, 0.0), "shadow": ("2", 100.0)}
    with Load(server.url, BODIES, threads=3) as load:
        load.wait_for(100)
        analysis = canary(config(project), "production", "analyze", dry_run=True)
    assert {a.version for a in load.answers} == {"1"}  # the shadow role answers no client
    assert analysis.extras["versions"]["shadow"] == "2" and analysis.metrics["agreement"] > 0.8


def mlgate(args: list[str], cfg: Path, key: str = S.ADMIN_KEY) -> subprocess.CompletedProcess[str]:
    env = {**S.admin_env(), "MLGATE_ADMIN_KEY": key}
    script = Path(sys.executable).with_name("mlgate")
    return subprocess.run([str(script), *args, "--config", str(cfg)], env=env, capture_output=True, text=True,
                          cwd=cfg.parent, timeout=120)


def test_bad_input_exits_2_and_changes_nothing(project: Path, server: ServerProcess) -> None:
    headers = {"X-Admin-Key": S.ADMIN_KEY}
    before = httpx.get(f"{server.url}/admin/state", headers=headers).json()
    history = len(registry(project).history(50))
    cases = {
        "no version 9": ["deploy", "--env", "production", "--strategy", "blue-green", "--version", "9"],
        "unknown environment 'prod'": ["deploy", "--env", "prod", "--version", "2"],
        "between 0 and 100": ["deploy", "--env", "production", "--strategy", "canary", "--version", "2",
                              "--canary-percent", "150"],
        "cannot reach the server": ["deploy", "--env", "production", "--version", "2", "--url",
                                    f"http://127.0.0.1:{free_port()}"],
    }
    for expected, args in cases.items():
        result = mlgate(args, project)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
    wrong = mlgate(["rollback", "--env", "production"], project, key="not-the-key")
    assert wrong.returncode == 2 and "refused the admin call" in wrong.stderr, wrong.stderr
    assert "not-the-key" not in server.stderr_tail(200)
    assert httpx.get(f"{server.url}/admin/state", headers=headers).json() == before
    assert registry(project).alias("production") == "1"
    assert len(registry(project).history(50)) == history


def test_failed_self_test_is_never_switched_to(project: Path, server: ServerProcess, tmp_path: Path) -> None:
    from mlgate.context import standalone_context
    from mlgate.deploy.stage import DeployOptions, run_deploy

    # version 4 takes other features (one dropped): its self-test against the stable slot fails on the server
    version = S.register(project, S.model_folder(tmp_path / "m4", "good", 2, drop=("gender",)))
    # the way `mlgate deploy` runs it: the stage function on a standalone context
    ctx = standalone_context("deploy", config(project), output=tmp_path / "reports")
    report = run_deploy(ctx, DeployOptions(env="production", strategy="blue-green", version=version))
    assert not report.passed
    assert "failed its self-test" in report.failures[0].message
    assert "missing ['gender'], extra []" in report.failures[0].message
    assert httpx.post(f"{server.url}/predict", json=example(server.url)).json()["model_version"] == "1"
    assert registry(project).alias("production") == "1"


def test_deploy_wait_rolls_a_broken_canary_back_on_its_own(project: Path, server: ServerProcess) -> None:
    from mlgate.deploy.actions import deploy

    cfg = config(project)
    cfg.deploy.canary.interval_s = 1.0
    cfg.deploy.canary.max_wait_s = 120.0
    with Load(server.url, BODIES, threads=4) as load:
        report = deploy(cfg, "production", strategy="canary", version="3", percent=50, wait=True)
    assert not report.passed
    assert "canary_rollback" in [c.name for c in report.failures], [c.message for c in report.checks]
    assert load.failed == []
    assert registry(project).env_state("production").canary is None
