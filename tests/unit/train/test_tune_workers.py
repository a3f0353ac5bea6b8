"""Splitting trials over workers, shared storages and ${VARS} in tune.storage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import ConfigError
from mlgate.train.tuning import default_storage
from mlgate.train.workers import expand_storage, fan_out, is_shared, split_trials


@pytest.mark.parametrize(("n", "workers", "shares"), [
    (6, 2, [3, 3]), (7, 3, [3, 2, 2]), (2, 4, [1, 1]), (5, 1, [5]), (1, 1, [1]),
])
def test_trials_are_split_exactly_without_empty_shares(n: int, workers: int, shares: list[int]) -> None:
    assert split_trials(n, workers) == shares and sum(shares) == n


def test_only_database_servers_count_as_shared() -> None:
    assert is_shared("postgresql://u:p@db/optuna") and is_shared("postgresql+psycopg://db/o")
    assert is_shared("mysql+pymysql://db/o")
    assert not is_shared("sqlite:///.mlgate/optuna.db") and not is_shared("")


def test_storage_variables_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTUNA_DB_PASSWORD", "s3cret")
    cfg = config_from_dict({"project": "p", "data": {"path": "."},
                            "tune": {"storage": "postgresql://optuna:${OPTUNA_DB_PASSWORD}@db/optuna"}}, tmp_path)
    assert default_storage(cfg) == "postgresql://optuna:s3cret@db/optuna"
    monkeypatch.delenv("OPTUNA_DB_PASSWORD")
    with pytest.raises(ConfigError, match=r"tune.storage names the environment variable OPTUNA_DB_PASSWORD, which "
                                          r"is not set \(storage postgresql://optuna:\$\{\.\.\.\}@db/optuna\)"):
        default_storage(cfg)
    assert expand_storage("sqlite:///a$b.db") == "sqlite:///a$b.db"  # only ${NAME} is a variable


def test_fan_out_needs_a_shared_storage(tmp_path: Path) -> None:
    local = config_from_dict({"project": "p", "data": {"path": "."}, "tune": {"n_trials": 10}}, tmp_path)
    with pytest.raises(ConfigError, match="tune.storage must be a database every CI job reaches"):
        fan_out(local, 3)
    shared = config_from_dict({"project": "p", "data": {"path": "."},
                               "tune": {"n_trials": 10, "storage": "postgresql://db/optuna"}}, tmp_path)
    jobs = fan_out(shared, 3)
    assert [job[job.index("--n-trials") + 1] for job in jobs] == ["4", "3", "3"]
    assert all(job[:4] == ["mlgate", "tune", "--workers", "1"] for job in jobs)


def test_workers_need_a_config_file(tmp_path: Path) -> None:
    from mlgate.train.tuning import TuneSetup
    from mlgate.train.workers import worker_command

    cfg = config_from_dict({"project": "p", "data": {"path": "."}, "tune": {"workers": 2}}, tmp_path)
    setup = TuneSetup("logistic-regression", {}, {}, "binary", "roc_auc", True, "s", "sqlite:///x.db")
    with pytest.raises(ConfigError, match="tune.workers > 1 needs a config file"):
        worker_command(cfg, setup, 3, tmp_path, "sqlite:///x.db")


def _worker(tmp_path: Path, index: int, script: str, trials: int = 3) -> Any:
    import subprocess

    from mlgate.train.workers import Worker

    folder = tmp_path / str(index)
    folder.mkdir()
    proc = subprocess.Popen(["sh", "-c", script], cwd=folder)
    return Worker(index, trials, folder, proc)


def test_workers_report_their_trials_and_errors(tmp_path: Path) -> None:
    from mlgate.train.workers import wait_workers, workers_check

    good = _worker(tmp_path, 1, """echo '{"metrics": {"trials_this_call": 3}}' > report.json""")
    bad = _worker(tmp_path, 2, "echo 'Error: cannot open Optuna study' > worker.log; exit 2")
    results = wait_workers([good, bad])
    assert [(r.returncode, r.trials_run) for r in results] == [(0, 3), (2, 0)]
    check = workers_check(results, own_trials=3)
    assert not check.passed
    assert check.message.startswith("3 workers ran 6 trials (this process 3; worker 1: 3 of 3 trials; ")
    assert "worker 2: 0 of 3 trials, exit 2: Error: cannot open Optuna study" in check.message


def test_stopped_workers_do_not_outlive_the_search(tmp_path: Path) -> None:
    from mlgate.train.workers import stop_workers

    workers = [_worker(tmp_path, i, "sleep 60") for i in (1, 2)]
    stop_workers(workers, grace=5)
    assert all(w.proc.poll() is not None for w in workers)


def test_a_trial_of_a_dead_worker_is_failed_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-trial leaves it RUNNING; once its heartbeat is older than the grace period,
    the next worker marks it FAIL and numbers its own trials on."""
    import optuna

    import mlgate.train.tuning as tuning
    from mlgate.train.tuning import TuneSetup, open_study, run_trials

    monkeypatch.setattr(tuning, "GRACE_SECONDS", 1)
    setup = TuneSetup("logistic-regression", {}, {}, "binary", "roc_auc", True, "s",
                      f"sqlite:///{tmp_path / 'optuna.db'}")
    dead = open_study(setup, seed=1)
    with pytest.warns(UserWarning, match="Heartbeat of storage"):
        orphan = dead.ask()  # the dead worker's trial: started, one heartbeat, then nothing
    dead._storage.record_heartbeat(orphan._trial_id)  # type: ignore[attr-defined]
    time.sleep(2.2)  # SQLite timestamps have whole seconds: 2.2 s is always more than the 1 s grace
    alive = open_study(setup, seed=1)
    assert run_trials(alive, lambda trial: 0.7, 2, None, 1, lambda study, trial: None) == 2
    states = [(t.number, t.state) for t in alive.get_trials(deepcopy=False)]
    assert states == [(0, optuna.trial.TrialState.FAIL), (1, optuna.trial.TrialState.COMPLETE),
                      (2, optuna.trial.TrialState.COMPLETE)]
