"""Fuzzing the prediction endpoints in-process: seeded mutations of valid requests (values of
the wrong type or size, missing and unknown fields, truncated and flipped bytes, odd headers)
must each get a well-formed answer and never a 5xx, on the raw ASGI front door and on MLflow's
/invocations alike. A valid request is answered 200 with a prediction, so a front door that
refused everything would fail here too."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlgate.serve.app import create_app
from mlgate.serve.auth import hash_key
from mlgate.serve.settings import ServeSettings

KEY = "fuzz-key"
ODD_VALUES: list[Any] = [None, "", "x" * 300, "1.5", "NaN", "Infinity", 1e308, -1e308, 2**70, -(2**70), -0.0,
                         True, False, [], {}, [1, 2], {"a": 1}, 0, 1, -1, 3.5]
ODD_HEADERS: list[dict[str, str]] = [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/json; x"},
                                     {"Content-Encoding": "gzip"}, {"Content-Type": ""}]
ALLOWED = {200, 400, 401, 404, 405, 413, 415, 422, 429}


def _bodies(example: dict[str, Any]) -> list[dict[str, Any]]:
    row, values = dict(example), list(example.values())
    return [{"features": row}, {"features": values}, {"records": [row, row]}, {"instances": [row]},
            {"dataframe_records": [row]}, {"inputs": [row]},
            {"dataframe_split": {"columns": list(row), "data": [values]}}]


def _mutate(rng: random.Random, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """One random change of a valid body, as bytes, with sometimes odd headers."""
    text = json.dumps(body)
    doc = json.loads(text)
    kind = rng.randrange(6)
    if kind == 0:  # a value of the wrong type or size
        key = next(iter(doc))
        target = doc[key]
        if isinstance(target, dict) and target and "columns" not in target:
            target[rng.choice(list(target))] = rng.choice(ODD_VALUES)
        elif isinstance(target, list) and target:
            if isinstance(target[0], dict):
                target[0][rng.choice(list(target[0]))] = rng.choice(ODD_VALUES)
            else:
                target[rng.randrange(len(target))] = rng.choice(ODD_VALUES)
        elif isinstance(target, dict):
            target["data"] = rng.choice(ODD_VALUES)
        raw = json.dumps(doc, allow_nan=True).encode()
    elif kind == 1:  # a field missing or one more
        key = next(iter(doc))
        rows = doc[key] if isinstance(doc[key], list) else [doc[key]]
        if rows and isinstance(rows[0], dict) and "columns" not in rows[0]:
            if rng.random() < 0.5:
                rows[0].pop(rng.choice(list(rows[0])))
            else:
                rows[0][f"extra_{rng.randrange(9)}"] = rng.choice(ODD_VALUES)
        else:
            doc[f"extra_{rng.randrange(9)}"] = 1
        raw = json.dumps(doc).encode()
    elif kind == 2:  # truncated
        raw = text.encode()[: rng.randrange(len(text))]
    elif kind == 3:  # a flipped byte
        data = bytearray(text.encode())
        data[rng.randrange(len(data))] = rng.randrange(256)
        raw = bytes(data)
    elif kind == 4:  # random bytes inserted
        data = bytearray(text.encode())
        at = rng.randrange(len(data))
        raw = bytes(data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))) + data[at:])
    else:  # the wrong top-level shape
        raw = json.dumps(rng.choice([[doc], doc[next(iter(doc))], {"features": doc}, 5, "text", None])).encode()
    headers = {"Content-Type": "application/json"}
    if rng.random() < 0.15:
        headers = dict(rng.choice(ODD_HEADERS))
    return raw, headers


@pytest.fixture
def app(served, lr_model_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = ServeSettings(model_path=str(lr_model_dir), model_source=str(lr_model_dir), model_version="7",
                             key_hashes=[hash_key(KEY)], access_log=False, prediction_log=str(tmp_path / "log"),
                             rate_limit="1000000/minute")
    return create_app(settings, served)


def test_mutated_requests_never_get_a_5xx(app, served) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261202)
    bodies = _bodies(served.example)
    seen: dict[int, int] = {}

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for body in bodies:  # each valid form is answered, so the fuzzing hits a working server
                path = "/predict" if next(iter(body)) in ("features", "records", "instances") else "/invocations"
                answer = await client.post(path, json=body, headers={"X-API-Key": KEY})
                assert answer.status_code == 200, (path, body, answer.text)
            for i in range(1500):
                raw, headers = _mutate(rng, rng.choice(bodies))
                if rng.random() > 0.05:
                    headers["X-API-Key"] = KEY
                path = rng.choice(["/predict", "/invocations"])
                answer = await client.post(path, content=raw, headers=headers)
                seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
                assert answer.status_code in ALLOWED, (i, path, raw[:120], headers, answer.status_code, answer.text)
                reply = answer.json()  # every answer, refusals included, is JSON
                if answer.status_code == 200:
                    assert "prediction" in reply or "predictions" in reply, reply
                else:  # mlgate's refusal, or MLflow's error_code form on /invocations
                    assert reply.get("error") or (path == "/invocations" and reply.get("error_code")), reply
            health = await client.get("/health")
            assert health.status_code == 200

    asyncio.run(go())
    # the mutations reach past the parser: some are answered, some refused as invalid input
    assert seen.get(200, 0) > 50 and seen.get(422, 0) > 50 and seen.get(400, 0) > 50, seen
