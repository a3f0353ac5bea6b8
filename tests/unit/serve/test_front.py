"""The front door: raw ASGI answers, the access log's lines, slots, disconnects."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mlgate.serve.app import create_app
from mlgate.serve.auth import hash_key
from mlgate.serve.converge import commit_plan
from mlgate.serve.front import Disconnected, headers_of, read_body
from mlgate.serve.plan import ModelRef
from mlgate.serve.schema import InputError
from mlgate.serve.settings import ServeSettings

ADMIN_KEY = "front-admin-key"


def _app(folder: Path) -> Any:
    return create_app(ServeSettings(model_path=str(folder), model_source=str(folder), model_version="1",
                                    admin_key_hash=hash_key(ADMIN_KEY), rate_limit="off", access_log=True))


def _access_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith('{"time"')]


def test_access_log_names_the_version_that_answered(lr_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(_app(lr_model_dir)) as client:
        dep = client.app.state.server.deployment  # type: ignore[attr-defined]
        plan = dep.state.current().stage(ModelRef("3", str(lr_model_dir)), "canary").route(canary=50)
        asyncio.run(commit_plan(dep.state, plan, 1, timeout=30))
        body = {"features": client.get("/model-info").json()["input_example"]}
        answered = {}
        for i in range(30):
            answer = client.post("/predict", json=body, headers={"X-Client-Id": f"c{i}"}).json()
            answered[answer["request_id"]] = answer["model_version"]
        slot = client.post("/_slot/canary/predict", json=body, headers={"X-Admin-Key": ADMIN_KEY}).json()
    lines = {r["request_id"]: r for r in _access_lines(capsys.readouterr().err) if r["request_id"]}
    assert set(answered.values()) == {"1", "3"}  # both slots answered some
    assert {rid: lines[rid]["model_version"] for rid in answered} == answered
    assert lines[slot["request_id"]]["model_version"] == "3"
    assert lines[slot["request_id"]]["path"] == "/_slot/canary/predict"


def test_refusals_and_other_routes_are_logged_with_their_status(lr_model_dir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(_app(lr_model_dir)) as client:
        assert client.post("/predict", content=b"{").status_code == 400
        assert client.get("/health").status_code == 200
        assert client.get("/_slot/canary/ready", headers={"X-Admin-Key": ADMIN_KEY}).status_code == 404
    lines = _access_lines(capsys.readouterr().err)
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("POST", "/predict", 400), ("GET", "/health", 200), ("GET", "/_slot/canary/ready", 404)]
    assert lines[0]["request_id"] and lines[1]["request_id"] is None


def test_headers_first_of_a_repeated_name_wins() -> None:
    scope = {"headers": [(b"x-api-key", b"first"), (b"content-type", b"text/csv"), (b"x-api-key", b"second")]}
    assert headers_of(scope) == {"x-api-key": "first", "content-type": "text/csv"}


def _receiver(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def test_body_in_chunks_limit_and_disconnect() -> None:
    chunks = _receiver({"type": "http.request", "body": b"ab", "more_body": True},
                       {"type": "http.request", "body": b"cd", "more_body": False})
    assert asyncio.run(read_body(chunks, {}, 10)) == b"abcd"
    too_big = _receiver({"type": "http.request", "body": b"x" * 6, "more_body": True},
                        {"type": "http.request", "body": b"x" * 6, "more_body": False})
    with pytest.raises(InputError, match="over the limit of 10 bytes"):
        asyncio.run(read_body(too_big, {}, 10))
    with pytest.raises(InputError, match="body of 11 bytes"):
        asyncio.run(read_body(_receiver(), {"content-length": "11"}, 10))
    gone = _receiver({"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"})
    with pytest.raises(Disconnected):
        asyncio.run(read_body(gone, {}, 10))
