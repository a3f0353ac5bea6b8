"""Bounded retries of registry writes: what is retried, for how long, and what is left behind."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import RegistryError
from mlgate.registry.store import (
    REGISTRATION_TAG,
    RetryPolicy,
    create_version,
    open_store,
    reason,
    retry,
    retry_policy,
    set_alias_or_undo,
)


@pytest.fixture(autouse=True)
def _mlflow_http_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What setup_mlflow sets for a server, undone after each test (the variables stay process-wide)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.delenv("MLGATE_RETRY_SECONDS", raising=False)
    # open_store sets the process's retry policy: do not leave a dead server's behind for other tests
    import mlgate.registry.store as store

    monkeypatch.setattr(store, "_policy", store.RetryPolicy())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Answer503(http.server.BaseHTTPRequestHandler):
    def _reply(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _reply

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server_503() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer503)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _config(tmp_path: Path, uri: str, seconds: float) -> Any:
    return config_from_dict({"project": "churn", "data": {"path": "."},
                             "registry": {"tracking_uri": uri, "retry_seconds": seconds}}, tmp_path)


def test_a_server_that_is_not_there_is_exit_2_naming_it_after_the_budget(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    with pytest.raises(RegistryError, match=rf"tracking server at {uri} did not answer \(connection refused\) "
                                            r"for 1.5 s of retries.*registry.retry_seconds") as info:
        open_store(_config(tmp_path, uri, 1.5))
    assert info.value.exit_code == 2
    assert time.monotonic() - t0 < 15  # MLflow alone would retry for about 250 s
    # while waiting it said what it retries and for how long
    assert f"tracking server at {uri}: connection refused while trying to open the MLflow store; retrying for" \
        in capsys.readouterr().err
    assert not (tmp_path / ".mlgate" / "mlflow.db").exists()


def test_a_server_answering_503_is_retried_then_named(tmp_path: Path, server_503: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(RegistryError, match=rf"{server_503} did not answer \(HTTP 503\) for 1 s"):
        open_store(_config(tmp_path, server_503, 1.0))
    assert 1.0 <= time.monotonic() - t0 < 15


def test_the_environment_overrides_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_RETRY_SECONDS", "2.5")
    policy = retry_policy(_config(tmp_path, "http://mlflow.example:5000", 30))
    assert (policy.seconds, policy.source) == (2.5, "MLGATE_RETRY_SECONDS")
    assert policy.store == "the MLflow tracking server at http://mlflow.example:5000"
    monkeypatch.setenv("MLGATE_RETRY_SECONDS", "soon")
    with pytest.raises(RegistryError, match="MLGATE_RETRY_SECONDS='soon' is not a number"):
        retry_policy(None)


def test_a_password_in_the_store_url_is_not_shown(tmp_path: Path) -> None:
    policy = retry_policy(_config(tmp_path, "postgresql://mlflow:s3cret@db:5432/mlflow", 1))
    assert "s3cret" not in policy.store and "mlflow:***@db:5432" in policy.store


def test_only_transient_failures_are_retried() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise RuntimeError("API request failed with exception: [Errno 111] Connection refused")

    with pytest.raises(RegistryError, match=r"did not answer \(connection refused\)"):
        retry(refused, "write", policy=RetryPolicy(seconds=0.3))
    assert len(calls) > 1
    calls.clear()

    def bad_name() -> None:
        calls.append(1)
        raise RuntimeError("INVALID_PARAMETER_VALUE: bad name")

    with pytest.raises(RegistryError, match="cannot write: INVALID_PARAMETER_VALUE: bad name"):
        retry(bad_name, "write", policy=RetryPolicy(seconds=5))
    assert len(calls) == 1


@pytest.mark.parametrize(("text", "short"), [
    ("HTTPConnectionPool(host='h', port=1): Max retries exceeded (Caused by ResponseError('too many 502 error "
     "responses'))", "HTTP 502"),
    ("API request to endpoint /x failed with error code 504 != 200", "HTTP 504"),
    ("RESOURCE: INTERNAL_ERROR: (psycopg.OperationalError) server closed the connection", "HTTP 500"),
    ("Read timed out. (read timeout=30)", "no answer in time"),
])
def test_reasons_are_short(text: str, short: str) -> None:
    assert reason(RuntimeError(text)) == short


class _FakeRegistry:
    """A registry whose first create succeeds on the 'server' but loses its answer."""

    def __init__(self, alias_fails: bool = False, delete_fails: bool = False) -> None:
        self.versions: list[SimpleNamespace] = []
        self.creates = 0
        self.alias_fails, self.delete_fails = alias_fails, delete_fails

    def create(self, tags: dict[str, str]) -> SimpleNamespace:
        self.creates += 1
        version = SimpleNamespace(version=str(len(self.versions) + 1), tags=dict(tags))
        self.versions.append(version)
        if self.creates == 1:
            raise ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))")
        return version

    def search_model_versions(self, query: str) -> list[SimpleNamespace]:
        return [v for v in self.versions if f"= '{v.tags[REGISTRATION_TAG]}'" in query]

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        if self.alias_fails:
            raise ConnectionError("[Errno 111] Connection refused")

    def delete_model_version(self, name: str, version: str) -> None:
        if self.delete_fails:
            raise ConnectionError("[Errno 111] Connection refused")
        self.versions = [v for v in self.versions if v.version != version]


def test_a_retry_after_a_lost_answer_does_not_register_twice() -> None:
    registry = _FakeRegistry()
    tags = {"mlgate.model_sha256": "ab" * 32}
    version = create_version(registry, "churn", tags, lambda: registry.create(tags), "create a version")  # type: ignore[arg-type]
    assert registry.creates == 1 and len(registry.versions) == 1
    assert version.version == "1" and version.tags["mlgate.model_sha256"] == "ab" * 32
    assert len(tags[REGISTRATION_TAG]) == 32


@pytest.mark.parametrize("delete_fails", [False, True], ids=["deleted", "store-gone"])
def test_an_alias_that_cannot_be_set_undoes_the_version(delete_fails: bool) -> None:
    registry = _FakeRegistry(alias_fails=True, delete_fails=delete_fails)
    registry.versions.append(SimpleNamespace(version="1", tags={REGISTRATION_TAG: "x"}))
    import mlgate.registry.store as store

    policy, store._policy = store._policy, RetryPolicy(seconds=0.2, store="the MLflow tracking server at http://h")
    try:
        expected = "stays registered with all its tags" if delete_fails else "was deleted again"
        with pytest.raises(RegistryError, match=rf"cannot set alias 'staging': .*http://h.*; version 1 {expected}"):
            set_alias_or_undo(registry, "churn", "staging", "1")  # type: ignore[arg-type]
    finally:
        store._policy = policy
    assert len(registry.versions) == (1 if delete_fails else 0)
