"""The deploy lock and record in a real (SQLite) MLflow registry: one holder, stale holders, takeover."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlgate.config import load_config
from mlgate.deploy.record import (
    DeployLocked,
    EnvLock,
    Holder,
    Record,
    interrupted,
    read_holder,
    read_record,
    write_record,
)
from mlgate.deploy.state import Registry, describe_state
from mlgate.errors import RegistryError


@pytest.fixture
def registry(tmp_path: Path, mlflow_template: Path) -> Registry:
    (tmp_path / ".mlgate").mkdir()
    shutil.copy(mlflow_template, tmp_path / ".mlgate" / "mlflow.db")
    raw = {"project": "churn", "data": {"path": "d.csv"}, "registry": {"model_name": "churn"},
           "environments": {"production": {"url": "http://127.0.0.1:9"}}, "deploy": {"lock_ttl_s": 5}}
    (tmp_path / "mlgate.yaml").write_text(yaml.safe_dump(raw))
    reg = Registry(load_config(tmp_path / "mlgate.yaml"))
    reg.client.create_registered_model("churn")
    return reg


def _lock(registry: Registry, **kw: object) -> EnvLock:
    return EnvLock(registry, "production", "ana@laptop", "deploy", 5.0, **kw)  # type: ignore[arg-type]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_one_holder_at_a_time_and_the_message_names_it(registry: Registry) -> None:
    with _lock(registry) as first:
        assert read_holder(registry, "production") == first.holder
        with pytest.raises(DeployLocked, match=r"environment production is being deployed by ana@laptop "
                                               r"\(deploy, pid \d+ on .*\) since .*; wait \(--lock-wait SECONDS\) "
                                               "or use --force-unlock"):
            _lock(registry).acquire()
        started = time.monotonic()
        with pytest.raises(DeployLocked):
            _lock(registry, wait_s=0.6).acquire()
        assert time.monotonic() - started >= 0.6
    assert read_holder(registry, "production") is None  # released


def test_a_dead_or_silent_holder_is_taken_over(registry: Registry) -> None:
    dead = Holder("ci", socket.gethostname(), _dead_pid(), time.time(), time.time(), "deploy")
    registry.client.create_registered_model("churn.deploy-lock.production", tags={"mlgate.lock": dead.to_tag()})
    with _lock(registry) as lock:
        assert "holder is gone" in lock.messages[0]
    silent = Holder("ci", "another-host", 1, time.time() - 60, time.time() - 60, "deploy")
    registry.client.create_registered_model("churn.deploy-lock.production", tags={"mlgate.lock": silent.to_tag()})
    assert silent.stale(5.0) and not Holder("ci", "another-host", 1, 0, time.time(), "x").stale(5.0)
    with _lock(registry) as lock:
        assert len(lock.messages) == 1


def test_force_and_rollback_take_a_live_lock_and_the_holder_notices(registry: Registry) -> None:
    holder = _lock(registry).acquire()
    try:
        with _lock(registry, take_over=True) as rollback:
            assert "rollback takes over" in rollback.messages[0]
            with pytest.raises(DeployLocked, match="was taken over by ana@laptop"):
                holder.check()
    finally:
        holder.release()  # gives back nothing: the lock is not its own any more
    assert read_holder(registry, "production") is None
    assert _lock(registry, force=True).acquire().messages == []


def test_a_record_in_progress_without_a_live_holder_is_interrupted(registry: Registry) -> None:
    lock = _lock(registry).acquire()
    record = Record("deploy", "blue-green", "1", "2", "ana@laptop", time.time(), step="alias",
                    token=lock.holder.token)
    write_record(registry, "production", record)
    assert read_record(registry, "production") == record
    assert not interrupted(record, read_holder(registry, "production"), 5.0)
    lock.release()
    assert interrupted(record, None, 5.0)
    state = registry.env_state("production", with_lock=True)
    assert state.interrupted
    assert "interrupted: deploy (blue-green) 1 -> 2 by ana@laptop" in describe_state(state)
    assert "stopped at step 'alias'" in describe_state(state)


def test_a_read_only_store_fails_the_probe_naming_the_file(registry: Registry) -> None:
    db = Path(registry.config.root) / ".mlgate" / "mlflow.db"
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("needs root and chattr to make the store read-only")
    try:
        with pytest.raises(RegistryError, match=rf"sqlite:///{db}.* refuses writes"):
            _lock(registry).acquire()
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
