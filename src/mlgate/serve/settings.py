"""Everything a server worker needs, resolved once by the parent process.

Workers receive it as JSON in ``MLGATE_SERVE_SETTINGS`` (uvicorn starts each worker from an
import string, so there is no other way to hand over objects); keys are only ever hashes.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mlgate.errors import ServeError

SETTINGS_ENV = "MLGATE_SERVE_SETTINGS"


class ServeSettings(BaseModel):
    """The resolved serving options of one server."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())  # model_path: pydantic < 2.10 warns

    model_path: str
    model_source: str
    model_version: str
    model_sha256: str | None = None  # the registered pin the worker checks the file against
    key_hashes: list[str] = Field(default_factory=list)
    admin_key_hash: str | None = None
    rate_limit: str = "100/minute"
    max_body_bytes: int = Field(1_048_576, gt=0)
    max_batch_rows: int = Field(10_000, ge=1)
    prediction_log: str | None = None
    prediction_log_max_bytes: int = Field(50_000_000, gt=0)
    access_log: bool = True
    slot: str = "stable"
    model_threads: int = Field(1, ge=1)
    # deployment (see serve/converge.py): the shared state folder of all workers, their
    # number, the environment served and the config whose registry it converges to
    state_dir: str | None = None
    workers: int = Field(1, ge=1)
    env: str | None = None
    config_path: str | None = None
    keep_previous_s: float = Field(3600.0, ge=0)
    converge_interval_s: float = Field(2.0, gt=0)  # how often an --env server compares itself with the registry
    parent_pid: int | None = None  # workers exit when this process dies (see serve/runner.py)

    def to_env(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_env(cls) -> ServeSettings:
        raw = os.environ.get(SETTINGS_ENV)
        if not raw:
            raise ServeError(f"{SETTINGS_ENV} is not set; start the server with `mlgate serve`")
        return cls.model_validate_json(raw)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: an IP address in 127.0.0.0/8, or ::1.

    Names are not loopback: ``127.example.com`` is anyone's, and ``localhost`` is whatever the
    hosts file says; bind to ``127.0.0.1`` or ``::1`` to serve without keys or TLS.
    """
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def log_folder(path: str | None) -> Path | None:
    return Path(path) if path else None
