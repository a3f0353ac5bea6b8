"""The python example of docs/monitor.md runs."""

from __future__ import annotations

from _support.docs import python_blocks


def test_monitor_page_example_runs():
    blocks = python_blocks("monitor.md")
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/monitor.md", "exec"), {})
