"""The application in-process (httpx over ASGI): routes, status codes, micro-batching."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlgate.serve.app import create_app
from mlgate.serve.auth import hash_key
from mlgate.serve.settings import ServeSettings

KEY = "unit-key"


def settings(folder: Path, **kw: Any) -> ServeSettings:
    base = {"model_path": str(folder), "model_source": str(folder), "model_version": "7",
            "key_hashes": [hash_key(KEY)], "access_log": False}
    return ServeSettings(**{**base, **kw})


@pytest.fixture
def app(served, lr_model_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_app(settings(lr_model_dir, prediction_log=str(tmp_path / "log"),
                               rate_limit="1000/minute"), served)


def call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kw)
    return asyncio.run(go())


AUTH = {"Authorization": f"Bearer {KEY}"}


def test_probes_and_info(app, served) -> None:  # type: ignore[no-untyped-def]
    assert call(app, "GET", "/health").status_code == 200
    assert call(app, "GET", "/ready").json()["model_version"] == "7"
    info = call(app, "GET", "/model-info").json()
    assert info["version"] == "7" and info["features"] == served.schema.names
    assert call(app, "GET", "/ping").status_code == 200
    assert call(app, "GET", "/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]


def test_predict_shapes(app, served) -> None:  # type: ignore[no-untyped-def]
    row = served.example
    single = call(app, "POST", "/predict", json={"features": row}, headers=AUTH).json()
    assert single["prediction"] in (0, 1) and 0 <= single["probability"] <= 1
    assert single["model_version"] == "7" and single["request_id"]
    ordered = call(app, "POST", "/predict", json={"features": list(row.values())}, headers=AUTH).json()
    assert ordered["probability"] == single["probability"]
    batch = call(app, "POST", "/predict", json={"records": [row, row]}, headers={"X-API-Key": KEY}).json()
    assert batch["predictions"] == [single["prediction"]] * 2
    mlflow = call(app, "POST", "/invocations", json={"dataframe_records": [row]}, headers=AUTH).json()
    assert mlflow == {"predictions": [single["prediction"]]}


@pytest.mark.parametrize(("kwargs", "status", "reason"), [
    ({"json": {"features": [1, 2]}, "headers": AUTH}, 422, "invalid_input"),
    ({"content": b'{"features": [1,', "headers": AUTH}, 400, "malformed_json"),
    ({"json": {"features": [1, 2]}}, 401, "unauthorized"),
    ({"json": {"features": [1, 2]}, "headers": {"X-API-Key": "nope"}}, 401, "unauthorized"),
    ({"content": b"[" + b"0," * 600_000 + b"0]", "headers": AUTH}, 413, "body_too_large"),
])
def test_refusals(app, kwargs: dict, status: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    response = call(app, "POST", "/predict", **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == reason
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    metrics = call(app, "GET", "/metrics").text
    assert f'ml_requests_rejected_total{{model_version="7",reason="{reason}",slot="stable"}} 1.0' in metrics


def test_invocations_speaks_mlflow_errors(app) -> None:  # type: ignore[no-untyped-def]
    bad = call(app, "POST", "/invocations", json={"dataframe_records": [{"age": 1}]}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["error_code"] == "BAD_REQUEST"
    text = call(app, "POST", "/invocations", content=b"a,b\n1,2", headers={**AUTH, "Content-Type": "text/plain"})
    assert text.status_code == 415


def test_invocations_takes_csv_like_mlflow(app, served) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(served.schema.names)
    writer.writerow(["" if v is None else v for v in served.example.values()])
    writer.writerow(["" if v is None else v for v in served.example.values()])
    headers = {**AUTH, "Content-Type": "text/csv; charset=utf-8"}
    answer = call(app, "POST", "/invocations", content=buf.getvalue().encode(), headers=headers)
    single = call(app, "POST", "/invocations", json={"dataframe_records": [served.example]}, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["predictions"] == single.json()["predictions"] * 2
    bad = buf.getvalue().replace(str(served.example["age"]), "old", 1)
    refused = call(app, "POST", "/invocations", content=bad.encode(), headers=headers)
    assert refused.status_code == 400 and refused.json()["field"] == "csv[0].age"


def test_rate_limit_429_with_retry_after(served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings(lr_model_dir, rate_limit="3/minute"), served)
    codes = [call(app, "POST", "/predict", json={"features": served.example}, headers=AUTH)
             for _ in range(4)]
    assert [c.status_code for c in codes] == [200, 200, 200, 429]
    assert int(codes[-1].headers["retry-after"]) >= 1


def test_concurrent_requests_share_a_model_call(app, served) -> None:  # type: ignore[no-untyped-def]
    row = served.example

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(*(client.post("/predict", json={"features": row}, headers=AUTH)
                                          for _ in range(16)))
    responses = asyncio.run(go())
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["probability"] for r in responses}) == 1
    metrics = call(app, "GET", "/metrics").text
    calls = next(float(line.split()[-1]) for line in metrics.splitlines()
                 if line.startswith("ml_batch_rows_count"))
    assert calls < 16  # fewer model calls than requests: they were batched


def test_prediction_log(app, served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlgate.serve.jsonlog import read_prediction_log

    rid = "req-123"
    call(app, "POST", "/predict", json={"records": [served.example] * 2},
         headers={**AUTH, "X-Request-ID": rid})
    app.state.server.close()
    records = read_prediction_log(tmp_path / "log")
    assert [r["request_id"] for r in records] == [rid, rid]
    assert records[0]["inputs"] == served.example and records[0]["model_version"] == "7"
    json.dumps(records, allow_nan=False)


def test_a_request_is_counted_and_logged_after_its_answer_is_sent(app, served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The front door sends the answer first, then counts it and queues its log line
    (Server.finish): at the moment the answer's last byte is handed over, neither has happened;
    a request that follows sees both."""
    server = app.state.server
    seen: list[tuple[float, int]] = []

    def counted() -> float:
        return server.metrics._requests.labels("7", "stable", "predict")._value.get()  # type: ignore[no-any-return]

    body = json.dumps({"features": served.example}).encode()
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": [
        (b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            queued = len(server.prediction_log._unformatted) + len(server.prediction_log._items)
            seen.append((counted(), queued))

    before = counted()
    asyncio.run(app(scope, receive, send))
    assert seen == [(before, 0)]  # not yet, when the answer went out
    assert counted() == before + 1
    server.close()
    records = [json.loads(line) for f in (tmp_path / "log").glob("predictions.*.jsonl") for line in f.open()]
    assert len(records) == 1 and records[0]["inputs"] == served.example


def test_no_keys_means_open(served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings(lr_model_dir, key_hashes=[]), served)
    assert call(app, "POST", "/predict", json={"features": served.example}).status_code == 200


class _PickyModel:
    """Fails any batch holding a negative value, like a model refusing one odd row."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, columns: dict) -> Any:
        from mlgate.serve.model import Predictions

        values = columns["x"].tolist()
        self.calls.append(len(values))
        if min(values) < 0:
            raise ValueError("negative x")
        return Predictions([v * 2 for v in values])


def test_micro_batcher_isolates_a_failing_request() -> None:
    import numpy as np

    from mlgate.serve.batcher import MicroBatcher
    from mlgate.serve.metrics import ServerMetrics
    from mlgate.serve.schema import InputError

    model = _PickyModel()
    batcher = MicroBatcher(model, ServerMetrics("1"))  # type: ignore[arg-type]

    async def go() -> list[Any]:
        futures = [batcher.submit({"x": np.array(v)}, len(v)) for v in ([1.0], [-1.0], [2.0, 3.0])]
        return await asyncio.gather(*futures, return_exceptions=True)

    good, bad, pair = asyncio.run(go())
    assert model.calls == [4, 1, 1, 2]  # one shared call, then one per request
    assert good.labels == [2.0] and pair.labels == [4.0, 6.0]
    assert isinstance(bad, InputError) and bad.status == 422 and "negative x" in bad.message
