"""Data in a bucket: the churn pipeline against a real S3-compatible server on 127.0.0.1.

The server counts its requests, so "a no-op re-run reads no data" is measured: no GET of an object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _support.datasources import mlgate, quick_churn, run_folders, statuses
from _support.s3server import S3Server, s3_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        server.filesystem().create_dir("churn-data")
        yield server


def _upload(s3: S3Server, frame: pd.DataFrame, key: str, kind: str = "parquet") -> str:
    fs = s3.filesystem()
    if kind == "parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), f"churn-data/{key}", filesystem=fs)
    else:
        with fs.open_output_stream(f"churn-data/{key}") as out:
            out.write(frame.to_csv(index=False).encode())
    return f"s3://churn-data/{key}"


def _move_to_bucket(s3: S3Server, project: Path, prefix: str) -> tuple[str, str]:
    """Upload the project's train and test tables as Parquet; delete the local copies."""
    uris = []
    for name in ("train", "test"):
        local = project / "data" / f"{name}.csv"
        uris.append(_upload(s3, pd.read_csv(local), f"{prefix}/{name}.parquet"))
        local.unlink()
    return uris[0], uris[1]


def test_the_churn_pipeline_runs_from_a_bucket_and_a_noop_rerun_reads_no_data(
        s3: S3Server, churn_project: Path, mlgate_bin: list[str]) -> None:
    train, test = _move_to_bucket(s3, churn_project, "e2e")
    quick_churn(churn_project, train=train, test=test)
    s3.reset()
    first = mlgate(mlgate_bin, churn_project, "run", env=s3.env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert set(statuses(churn_project).values()) == {"ran"}
    assert any(p.endswith("train.parquet") for p in s3.object_reads())

    s3.reset()
    again = mlgate(mlgate_bin, churn_project, "run", env=s3.env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert set(statuses(churn_project).values()) == {"cached"}
    assert s3.object_reads() == []  # keys from ETags: HEAD requests only
    assert sum(n for (method, _, _), n in s3.requests.items() if method == "HEAD") >= 2

    # a new test object (another ETag) re-runs what reads the test table, not train
    frame = pq.read_table(test.removeprefix("s3://"), filesystem=s3.filesystem()).to_pandas()
    _upload(s3, frame.iloc[: len(frame) - 5], "e2e/test.parquet")
    third = mlgate(mlgate_bin, churn_project, "run", env=s3.env)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    seen = statuses(churn_project)
    assert seen["train"] == "cached" and seen["evaluate"] == "ran" and seen["validate"] == "ran"


def test_validate_and_monitor_read_objects_and_prefixes(s3: S3Server, churn_project: Path,
                                                        mlgate_bin: list[str]) -> None:
    frame = pd.read_csv(churn_project / "data" / "train.csv")
    one = _upload(s3, frame, "flags/one.csv", kind="csv")
    _upload(s3, frame.iloc[:1000], "flags/batches/a.parquet")
    _upload(s3, frame.iloc[1000:], "flags/batches/b.parquet")
    out = mlgate(mlgate_bin, churn_project, "validate", "--data", one, "--target", "target", env=s3.env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "one.csv" in (churn_project / "mlgate-reports" / "validate" / "report.json").read_text()
    out = mlgate(mlgate_bin, churn_project, "monitor", "--reference", one, "--current",
                 "s3://churn-data/flags/batches/", env=s3.env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]  # the same rows: no drift
    metrics = json.loads((churn_project / "mlgate-reports" / "monitor" / "report.json").read_text())["metrics"]
    assert metrics["current_rows"] == metrics["reference_rows"] == len(frame)  # both objects of the prefix


@pytest.mark.parametrize("case", ["missing object", "unreachable endpoint", "refused"])
def test_an_object_that_cannot_be_read_is_exit_2_before_anything_runs(
        case: str, s3: S3Server, churn_project: Path, mlgate_bin: list[str]) -> None:
    train = _upload(s3, pd.read_csv(churn_project / "data" / "train.csv"), "errors/train.csv", kind="csv")
    env = s3.env
    if case == "missing object":
        train = "s3://churn-data/errors/nope.parquet"
    elif case == "unreachable endpoint":
        env = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # discard port: nothing listens
    quick_churn(churn_project, train=train)
    if case == "refused":
        import moto.settings

        before = moto.settings.INITIAL_NO_AUTH_ACTION_COUNT
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # the server checks signatures: an unknown key is refused
        try:
            out = mlgate(mlgate_bin, churn_project, "run", env=env, timeout=120)
        finally:
            moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = before
    else:
        out = mlgate(mlgate_bin, churn_project, "run", env=env, timeout=120)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    message = out.stderr
    assert "data.train in mlgate.yaml" in message and train in message
    expected = {"missing object": "does not exist", "unreachable endpoint": "check AWS_ENDPOINT_URL",
                "refused": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}[case]
    assert expected in message
    assert run_folders(churn_project) == []  # checked before any run folder is made
