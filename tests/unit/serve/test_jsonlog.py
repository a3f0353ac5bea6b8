"""The background JSON-lines writer: non-blocking, rotated, read back for monitoring."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import numpy as np

from mlgate.serve.jsonlog import JsonLineWriter, read_prediction_log


def test_rotation_and_read_back(tmp_path: Path) -> None:
    writer = JsonLineWriter(folder=tmp_path, max_bytes=2000, backups=3)
    for i in range(200):
        writer.put({"time": f"2026-01-01T00:00:{i:03d}", "i": i})
    writer.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 4  # the live file and three backups; the oldest were dropped
    records = read_prediction_log(tmp_path)
    assert records and [r["i"] for r in records] == sorted(r["i"] for r in records)
    assert records[-1]["i"] == 199


def test_expand_turns_one_item_into_rows() -> None:
    sink = io.StringIO()
    writer = JsonLineWriter(sink, expand=lambda item: [{"n": n} for n in range(item)])
    writer.put(3)
    writer.close()
    assert [json.loads(line) for line in sink.getvalue().splitlines()] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_a_cut_line_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "predictions.1.jsonl").write_text('{"time": "a"}\n{"time": "b", "cut')
    assert read_prediction_log(tmp_path) == [{"time": "a"}]


def test_stderr_lines_go_to_the_stream_the_writer_started_with(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    started_with, swapped_in = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", started_with)
    writer = JsonLineWriter()
    monkeypatch.setattr(sys, "stderr", swapped_in)  # as pytest does between two test phases
    writer.put({"path": "/predict"})
    writer.close()
    assert started_with.getvalue() == '{"path":"/predict"}\n' and swapped_in.getvalue() == ""


def test_values_json_has_no_word_for_are_written_as_null_or_text() -> None:
    """NaN and infinities become null (a prediction log line must stay JSON), numpy values their
    numbers, a non-text key its text, and any other type its str()."""
    sink = io.StringIO()
    writer = JsonLineWriter(sink)
    writer.put({"inputs": {"a": float("nan"), "b": float("inf"), "c": np.float64(0.1), "d": np.int64(3),
                           1: "x", "when": dt.date(2026, 12, 7), "path": Path("/tmp/x")},
                "probabilities": np.array([0.25, 0.75])})
    writer.close()
    line = sink.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"inputs": {"a": None, "b": None, "c": 0.1, "d": 3, "1": "x", "when": "2026-12-07",
                                           "path": "/tmp/x"}, "probabilities": [0.25, 0.75]}


def test_a_value_orjson_refuses_is_still_written() -> None:
    sink = io.StringIO()
    writer = JsonLineWriter(sink)
    writer.put({"big": 2**70, "n": 1})  # beyond orjson's 64-bit integers
    writer.put({"rows": list(range(20))}, lines=20)  # a big record: formatted by the writer thread
    writer.close()
    assert [json.loads(line) for line in sink.getvalue().splitlines()] == [{"big": 2**70, "n": 1},
                                                                          {"rows": list(range(20))}]


class _Traced:
    """A value whose formatting is recorded (the writer turns unknown types into their str())."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def __str__(self) -> str:
        self.events.append("formatted")
        return "v"


def test_on_the_event_loop_a_record_is_formatted_after_the_request_answered() -> None:
    """put() on a running loop leaves the formatting to the loop's next turn: the request that
    put it answers first; the records of one turn are formatted together."""
    import asyncio

    sink = io.StringIO()
    writer = JsonLineWriter(sink)
    events: list[str] = []

    async def request() -> None:
        writer.put({"i": 0, "x": _Traced(events)})
        writer.put({"i": 1, "x": _Traced(events)})
        events.append("answered")
        await asyncio.sleep(0)  # the loop's next turn

    asyncio.run(request())
    writer.close()
    assert events == ["answered", "formatted", "formatted"]
    assert [json.loads(line)["i"] for line in sink.getvalue().splitlines()] == [0, 1]


def test_close_writes_records_the_loop_did_not_turn_to_format() -> None:
    import asyncio

    sink = io.StringIO()
    writer = JsonLineWriter(sink)

    async def put_and_close() -> None:
        writer.put({"i": 0})
        writer.close()  # shut-down, before the loop's next turn

    asyncio.run(put_and_close())
    assert sink.getvalue() == '{"i":0}\n'
