"""A full log queue drops lines without blocking the request, and counts every one of them."""

from __future__ import annotations

import io
import threading
import time

import pytest

from mlgate.serve.jsonlog import JsonLineWriter
from mlgate.serve.metrics import ServerMetrics


class StuckSink(io.StringIO):
    """A sink whose writes wait until released: a disk that has stopped keeping up."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(10)
        return super().write(text)


def test_full_queue_counts_dropped_lines_in_the_metric_and_never_blocks(
        capsys: pytest.CaptureFixture[str]) -> None:
    metrics = ServerMetrics("1")
    sink = StuckSink()
    writer = JsonLineWriter(sink, max_queue=5, expand=lambda item: [{"i": item, "row": r} for r in range(2)],
                            on_drop=metrics.log_dropped["prediction"].inc)
    writer.put(-1, 2)  # the writer thread takes this one and blocks in write()
    time.sleep(0.2)
    started = time.perf_counter()
    for i in range(100):
        writer.put(i, 2)
    assert time.perf_counter() - started < 1.0  # put never waited for the stuck sink
    assert writer.dropped == 2 * (100 - 5)  # lines, not items: each item is two rows
    sink.release.set()
    writer.close()
    written = sink.getvalue().splitlines()
    assert len(written) + writer.dropped == 2 * 101  # every line is written or counted
    body = metrics.render()[0].decode()
    assert f'ml_log_lines_dropped_total{{log="prediction"}} {float(writer.dropped)}' in body
    assert 'ml_log_lines_dropped_total{log="access"} 0.0' in body
    assert capsys.readouterr().err.count("log is behind") == 1  # said once, then counted


def test_no_drop_when_the_writer_keeps_up() -> None:
    metrics = ServerMetrics("1")
    sink = io.StringIO()
    writer = JsonLineWriter(sink, on_drop=metrics.log_dropped["access"].inc)
    for i in range(1000):
        writer.put({"i": i})
    writer.close()
    assert len(sink.getvalue().splitlines()) == 1000
    assert writer.dropped == 0
