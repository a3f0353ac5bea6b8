"""Parallel tune workers on one Optuna study: local processes, or one CI job each.

``mlgate tune --workers N`` runs its share of the trials in its own process and starts N-1
more ``mlgate tune --workers 1`` processes on the same study and storage. The storage hands
out trial numbers in a database transaction, so every trial is counted once whichever
worker ran it; the caller's report summarizes the whole study after all workers are done.
The trials of one call are split up front (7 over 3 workers: 3, 2, 2), so the call runs
exactly ``n_trials`` trials, as one worker would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import ConfigError
from mlgate.reports.model import Check

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.train.tuning import TuneSetup

WORKERS_DIR = "workers"
# Optuna RDB storages every machine of a team (or every CI job) can reach; SQLite is one file on one machine.
SHARED_SCHEMES = ("postgresql", "postgres", "mysql", "oracle", "mssql")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Worker:
    """A started worker process and where it reports."""

    index: int
    trials: int
    out_dir: Path
    proc: subprocess.Popen[bytes]


@dataclass
class WorkerResult:
    index: int
    returncode: int
    trials_run: int
    message: str


def split_trials(n_trials: int, workers: int) -> list[int]:
    """``n_trials`` over ``workers`` as evenly as possible, no empty share: (7, 3) -> [3, 2, 2]."""
    workers = max(1, min(workers, n_trials))
    base, extra = divmod(n_trials, workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]


def is_shared(storage: str) -> bool:
    """True when ``storage`` is a database server other machines (CI jobs) can share, not a SQLite file."""
    return storage.split(":", 1)[0].split("+", 1)[0].lower() in SHARED_SCHEMES


def expand_storage(url: str) -> str:
    """Fill ``${NAME}`` from the environment, so a password can stay out of mlgate.yaml."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"tune.storage names the environment variable {name}, which is not set "
                              f"(storage {_VARIABLE.sub('${...}', url)})")
        return os.environ[name]

    return _VARIABLE.sub(value, url)


def worker_command(config: Config, setup: TuneSetup, trials: int, out_dir: Path, storage_flag: str) -> list[str]:
    """The ``mlgate tune`` call of one more worker on the same study (also what a CI job runs)."""
    if config.source is None:
        raise ConfigError("tune.workers > 1 needs a config file (mlgate.yaml) the worker processes can read")
    cmd = [sys.executable, "-m", "mlgate", "tune", "--config", str(config.source), "--workers", "1",
           "--n-trials", str(trials), "--study-name", setup.study_name, "--storage", storage_flag,
           "--model-type", setup.model_type, "--output", str(out_dir)]
    if config.tune.timeout:
        cmd += ["--timeout", str(config.tune.timeout)]
    return cmd


def start_workers(config: Config, setup: TuneSetup, shares: list[int], out_dir: Path) -> list[Worker]:
    """Start one ``mlgate tune`` process per share; their reports go to ``out_dir/workers/<i>``."""
    workers = []
    # the URL as configured (with ${VARS}), so the password is not on a command line `ps` shows
    storage = config.tune.storage or setup.storage
    for index, trials in enumerate(shares, start=1):
        folder = out_dir / WORKERS_DIR / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with (folder / "worker.log").open("wb") as log:
            proc = subprocess.Popen(worker_command(config, setup, trials, folder, storage), cwd=config.root,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        workers.append(Worker(index, trials, folder, proc))
    return workers


def wait_workers(workers: list[Worker]) -> list[WorkerResult]:
    """Wait for every worker; read how many trials each ran from its report.json."""
    results = []
    try:
        for worker in workers:
            code = worker.proc.wait()
            results.append(_result(worker, code))
    except BaseException:  # Ctrl-C or an error here: do not leave workers running on the study
        stop_workers(workers)
        raise
    return results


def stop_workers(workers: list[Worker], grace: float = 10.0) -> None:
    """Terminate workers still running (their running trial stays RUNNING in the study), then kill."""
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.terminate()
    for worker in workers:
        try:
            worker.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()


def _result(worker: Worker, code: int) -> WorkerResult:
    try:
        body = json.loads((worker.out_dir / "report.json").read_text(encoding="utf-8"))
        ran = int(body.get("metrics", {}).get("trials_this_call", 0))
    except (OSError, ValueError):
        ran = 0
    message = f"worker {worker.index}: {ran} of {worker.trials} trials"
    if code not in (0, 1):  # 1 only means "no trial completed yet", which the study summary reports
        tail = _last_line(worker.out_dir / "worker.log")
        message += f", exit {code}: {tail} (log: {worker.out_dir / 'worker.log'})"
    return WorkerResult(worker.index, code, ran, message)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    errors = [ln for ln in lines if ln.startswith("Error:")]
    return (errors or lines or ["no output"])[-1].strip()


def fan_out(config: Config, jobs: int) -> list[list[str]]:
    """The ``mlgate tune`` arguments of ``jobs`` parallel CI jobs on one shared study (for `mlgate ci`).

    Raises ConfigError when ``tune.storage`` is not a database the jobs can share: parallel
    jobs on separate SQLite files would each run their own study.
    """
    storage = config.tune.storage or ""
    if jobs > 1 and not is_shared(storage):
        raise ConfigError(f"tune.storage must be a database every CI job reaches (postgresql://..., mysql://...) "
                          f"to fan tuning out over {jobs} jobs (got {storage or 'the default SQLite file'})")
    shares = split_trials(config.tune.n_trials, jobs)
    return [["mlgate", "tune", "--workers", "1", "--n-trials", str(n), "--output", f"mlgate-reports/tune/{i}"]
            for i, n in enumerate(shares)]


def workers_check(results: list[WorkerResult], own_trials: int) -> Check:
    """One check over the extra workers: each exited cleanly; how many trials each ran."""
    failed = [r for r in results if r.returncode not in (0, 1)]
    total = own_trials + sum(r.trials_run for r in results)
    return Check(name="workers", passed=not failed, observed=[r.returncode for r in results], expected="exit 0",
                 message=f"{len(results) + 1} workers ran {total} trials (this process {own_trials}; "
                         + "; ".join(r.message for r in results) + ")",
                 details={"workers": [{"index": r.index, "exit": r.returncode, "trials": r.trials_run}
                                      for r in results]})
