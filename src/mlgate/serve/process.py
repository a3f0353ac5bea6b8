"""Run ``mlgate serve`` as a subprocess on a free loopback port, for tests, demo and smoke."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from mlgate.errors import ServeError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def mlgate_executable() -> str:
    """The ``mlgate`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("mlgate")
    return str(script) if script.exists() else "mlgate"


class ServerProcess:
    """``with ServerProcess(model) as server: requests.get(server.url + "/health")``.

    Starts ``mlgate serve`` and waits until ``GET /ready`` answers 200; stops it with
    SIGTERM (then SIGKILL) on exit. API keys go through the environment, never argv.
    """

    def __init__(self, model: str, *, config_path: Path | None = None, host: str = "127.0.0.1",
                 port: int = 0, api_keys: list[str] | None = None, admin_key: str | None = None,
                 extra_args: Sequence[str] = (), env: dict[str, str] | None = None,
                 timeout: float = 60.0, ca_file: str | None = None) -> None:
        self.model = str(model)
        self.config_path = config_path
        self.host = host
        self.port = port or free_port(host)
        self.api_keys = api_keys
        self.admin_key = admin_key
        self.extra_args = list(extra_args)
        self.env = env
        self.timeout = timeout
        self.ca_file = ca_file  # TLS: the CA that signed --ssl-certfile, to verify /ready
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (held open until __exit__)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if "--ssl-certfile" in self.extra_args else "http"
        return f"{scheme}://{host}:{self.port}"

    def command(self) -> list[str]:
        """``mlgate serve`` with these options (no --model when empty: serve --env E)."""
        cmd = [mlgate_executable(), "serve", *(["--model", self.model] if self.model else []),
               "--host", self.host, "--port", str(self.port)]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd + self.extra_args

    def start(self) -> ServerProcess:
        env = {**os.environ, **(self.env or {})}
        if self.api_keys is not None:
            env["MLGATE_API_KEYS"] = ",".join(self.api_keys)
        if self.admin_key is not None:
            env["MLGATE_ADMIN_KEY"] = self.admin_key
        cwd = self.config_path.parent if self.config_path is not None else None
        self.proc = subprocess.Popen(self.command(), env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.timeout
        context = None
        if self.url.startswith("https"):
            import ssl

            context = ssl.create_default_context(cafile=self.ca_file)
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServeError(f"`mlgate serve` exited with code {code} before it was ready:\n"
                                 f"{self.stderr_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/ready", timeout=2, context=context) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ServeError(f"`mlgate serve` did not answer 200 on {self.url}/ready within "
                         f"{self.timeout:.0f} s:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote to stderr."""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return the exit code."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._stderr.close()
