"""A throwaway PostgreSQL 15 cluster and an ``mlflow server`` on it, for tests and benchmarks.

``PostgresCluster`` runs ``initdb`` and ``pg_ctl`` from Debian's postgresql-15 (as the
``postgres`` user when we are root, since the server refuses to run as root) in a temporary
folder owned by that user, listening on a free loopback port with its socket in the same
folder, so it touches no system cluster. ``MlflowServer`` starts ``mlflow server`` with a
database of that cluster as its backend store and proxies artifacts into a folder
(``--serve-artifacts``), the way a team runs it. Both stop in ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PG_VERSION = "15"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server programs on this machine (or they cannot be run)."""


def pg_bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's layout, else ``pg_config --bindir``."""
    debian = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
    if (debian / "initdb").exists():
        return debian
    for found in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
        return found.parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        folder = Path(out.stdout.strip())
        if (folder / "initdb").exists():
            return folder
    raise PostgresUnavailable("PostgreSQL server programs (initdb, pg_ctl) are not installed: "
                              f"apt-get install postgresql-{PG_VERSION}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> list[str]:
    """The prefix that runs a command as the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if Path(p).exists()),
                                              None)
    if runuser is None:
        raise PostgresUnavailable("running as root, but `runuser` is missing to start PostgreSQL as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in a temporary folder; ``url(db)`` gives a SQLAlchemy URL."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="mlgate-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        prefix = _as_postgres()
        if prefix:  # the server refuses to run as root: the folder must belong to 'postgres'
            shutil.chown(self.folder, user="postgres", group="postgres")
        self._prefix = prefix
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale", "C")
        # fsync off: a throwaway cluster need not survive a power cut, and tests run faster
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off " \
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def _run(self, program: str, *args: str) -> None:
        cmd = [*self._prefix, str(self.bindir / program), *args]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if out.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(f"{program} failed ({out.returncode}): {out.stderr.strip()}\n{log}")

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its ``postgresql+psycopg://`` URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, name: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        if self.data.exists():
            with contextlib.suppress(PostgresUnavailable, subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on a backend store URI, proxying artifacts into ``artifacts``."""

    def __init__(self, backend: str, artifacts: Path, port: int | None = None, workers: int = 1) -> None:
        self.backend = backend
        self.artifacts = artifacts
        self.port = port or free_port()
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = artifacts.parent / f"mlflow-server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until ``/health`` answers."""
        mlflow = Path(sys.executable).with_name("mlflow")
        cmd = [str(mlflow), "server", "--backend-store-uri", self.backend, "--artifacts-destination",
               str(self.artifacts), "--serve-artifacts", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(self.workers)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        # no background job runner (huey consumers): the tests and benchmarks use none of its jobs
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited {self.proc.returncode}:\n{self._log_tail()}")
            if self.healthy():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health within {timeout:.0f} s:\n{self._log_tail()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server's process group (gunicorn/uvicorn workers included) and wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class Stack:
    """A PostgreSQL cluster with one MLflow server on database ``mlflow``; ``close()`` stops both."""

    def __init__(self, root: Path) -> None:
        self.root = root
        t0 = time.monotonic()
        self.pg = PostgresCluster()
        self.timings = {"postgres_s": round(time.monotonic() - t0, 1)}
        try:
            self.server = MlflowServer(self.pg.create_database("mlflow"), root / "artifacts")
            self.timings["mlflow_server_s"] = round(time.monotonic() - t0 - self.timings["postgres_s"], 1)
        except BaseException:
            self.pg.close()
            raise

    @property
    def tracking_uri(self) -> str:
        return self.server.url

    def optuna_url(self, name: str = "optuna") -> str:
        """A fresh database for an Optuna study (``postgresql://`` picks psycopg 3 in SQLAlchemy 2.1)."""
        self.pg.create_database(name)
        return self.pg.url(name, driver="postgresql")

    def close(self) -> None:
        self.server.stop()
        self.pg.close()
