"""A real `mlgate serve` on a free loopback port: every status code of the serving contract."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _support.serve import shared_model
from mlgate.serve.process import ServerProcess, free_port  # noqa: E402

pytestmark = pytest.mark.integration
KEY, BURST_KEY, SMOKE_KEY = "main-key", "burst-key", "smoke-key"


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory, mlgate_cli: list[str]) -> tuple[Path, str]:
    """A keys file written by `mlgate keys create`, and the key it printed once."""
    file = tmp_path_factory.mktemp("keys") / "api-keys"
    out = subprocess.run([*mlgate_cli, "keys", "create", "--file", str(file), "--label", "ci"],
                         capture_output=True, text=True, check=True).stdout
    key = next(w for w in out.split() if w.startswith("mlg_"))
    assert key not in file.read_text()
    return file, key


@pytest.fixture(scope="module")
def mlgate_cli() -> list[str]:
    script = Path(sys.executable).with_name("mlgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlgate"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys_file: tuple[Path, str]):  # type: ignore[no-untyped-def]
    model = shared_model(tmp_path_factory.getbasetemp())
    log = tmp_path_factory.mktemp("predictions")
    args = ["--api-keys-file", str(keys_file[0]), "--prediction-log", str(log), "--model-version", "4"]
    with ServerProcess(str(model), api_keys=[KEY, BURST_KEY, SMOKE_KEY], extra_args=args) as srv:
        srv.log_dir = log  # type: ignore[attr-defined]
        yield srv


@pytest.fixture(scope="module")
def client(server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": KEY}, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def example(client: httpx.Client) -> dict:
    return client.get("/model-info").json()["input_example"]


def test_probes_info_and_docs(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").json() == {"status": "ready", "model_version": "4"}
    info = client.get("/model-info").json()
    assert info["version"] == "4" and len(info["features"]) == 15
    assert client.get("/docs").status_code == 200
    assert "/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/ping").status_code == 200 and client.get("/version").text


def test_200_for_each_request_shape(client: httpx.Client, example: dict) -> None:
    named = client.post("/predict", json={"features": example}).json()
    ordered = client.post("/predict", json={"features": list(example.values())}).json()
    assert named["probability"] == ordered["probability"]
    batch = client.post("/predict", json={"instances": [list(example.values())] * 3}).json()
    assert batch["predictions"] == [named["prediction"]] * 3
    nulls = {**example, "satisfaction_score": None}
    assert client.post("/predict", json={"features": nulls}).status_code == 200
    for body in ({"dataframe_split": {"columns": list(example), "data": [list(example.values())]}},
                 {"dataframe_records": [example]}, {"instances": [example]},
                 {"inputs": {k: [v] for k, v in example.items()}}):
        answer = client.post("/invocations", json=body)
        assert answer.json() == {"predictions": [named["prediction"]]}, body


def test_key_from_the_keys_file_and_bearer_header(server, keys_file: tuple[Path, str], example: dict) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.post(f"{server.url}/predict", json={"features": example},
                        headers={"Authorization": f"Bearer {keys_file[1]}"})
    assert answer.status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"features": [0.5, 0.3, 0.8, 0.1, 0.9]}, "features"),
    ({"features": {"age": 1}}, "features.gender"),
    ({"records": [{"bogus": 1}]}, "records[0].bogus"),
])
def test_422_names_the_field(client: httpx.Client, body: dict, field: str) -> None:
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422
    assert answer.json()["field"] == field


@pytest.mark.parametrize(("column", "raw"), [("age", '"forty"'), ("monthly_charges", "NaN"),
                                             ("monthly_charges", "Infinity"), ("monthly_charges", "1e400"),
                                             ("gender", "null"), ("senior_citizen", '"yes"')])
def test_422_for_bad_values(client: httpx.Client, example: dict, column: str, raw: str) -> None:
    body = json.dumps({"features": {**example, column: "__X__"}}).replace('"__X__"', raw)
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == f"features.{column}"


def test_400_413_415(client: httpx.Client) -> None:
    assert client.post("/predict", content=b'{"features": [1, 2').status_code == 400
    assert client.post("/predict", content=b"\xff\xfe\x00").status_code == 400
    big = b'{"features": [' + b"1," * 600_000 + b"1]}"
    assert client.post("/predict", content=big).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(40):
            yield b" " * 50_000
    assert client.post("/predict", content=chunks()).status_code == 413
    other = client.post("/invocations", content=b"a,b\n1,2", headers={"Content-Type": "text/plain"})
    assert other.status_code == 415


def test_401_with_www_authenticate(server, example: dict) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        answer = httpx.post(f"{server.url}/predict", json={"features": example}, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer realm="mlgate"'
    assert httpx.post(f"{server.url}/invocations", json={"inputs": [example]}).status_code == 401


def test_429_with_retry_after_then_recovers(server, example: dict) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": BURST_KEY}) as burst:
        codes = [burst.post("/predict", json={"features": example}) for _ in range(110)]
        limited = [c for c in codes if c.status_code == 429]
        assert limited and {c.status_code for c in codes} == {200, 429}
        wait = int(limited[0].headers["retry-after"])
        assert wait >= 1
        # other clients are not affected by this one's burst
        assert httpx.post(f"{server.url}/predict", json={"features": example},
                          headers={"X-API-Key": KEY}).status_code == 200
        time.sleep(wait)
        assert burst.post("/predict", json={"features": example}).status_code == 200


def test_garbage_never_gives_5xx(server, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    bodies = [b"", b"null", b"[]", b"{}", b'"x"', b"1e999", b"[" * 5000, b'{"features": null}',
              b'{"features": {"age": {"a": [1]}}}', b'{"records": [[]]}', b'{"instances": 5}',
              b'{"features": [' + b"null," * 14 + b"null]}", b'{"features": "' + b"a" * 100_000 + b'"}']
    for body in bodies:
        for path in ("/predict", "/invocations"):
            answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500, (path, body[:40], answer.text)
    assert client.get("/nope").status_code == 404
    assert client.get("/predict").status_code == 405
    assert client.get("/health").status_code == 200  # the worker is alive


def test_metrics_and_prediction_log(server, client: httpx.Client, example: dict) -> None:  # type: ignore[no-untyped-def]
    from mlgate.serve.jsonlog import read_prediction_log

    client.post("/predict", json={"features": example}, headers={"X-Request-ID": "log-me"})
    text = client.get("/metrics").text
    for name in ("ml_predictions_total", "ml_prediction_latency_seconds_bucket", "ml_requests_rejected_total"):
        assert f'{name}{{' in text
    assert 'model_version="4"' in text and 'reason="unauthorized"' in text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = [r for r in read_prediction_log(server.log_dir) if r["request_id"] == "log-me"]
        if records:
            break
        time.sleep(0.1)
    assert records and records[0]["inputs"] == example and records[0]["model_version"] == "4"


def test_access_log_is_json(server) -> None:  # type: ignore[no-untyped-def]
    lines = [json.loads(line) for line in server.stderr_tail(200).splitlines() if line.startswith("{")]
    assert lines and {"method", "path", "status", "duration_ms", "request_id"} <= set(lines[-1])


def test_non_loopback_without_keys_is_refused(mlgate_cli: list[str], tmp_path: Path) -> None:
    result = subprocess.run([*mlgate_cli, "serve", "--model", str(tmp_path), "--host", "0.0.0.0"],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without API keys" in result.stderr


def test_bad_model_path_is_exit_2(mlgate_cli: list[str], tmp_path: Path) -> None:
    result = subprocess.run([*mlgate_cli, "serve", "--model", str(tmp_path / "absent")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_server_process_reports_a_failed_start(tmp_path: Path) -> None:
    from mlgate.errors import ServeError

    with pytest.raises(ServeError, match="does not exist"), ServerProcess(str(tmp_path / "absent")):
        pass


def test_free_port_is_free() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
