"""Reading ahead in a thread: the same items in order, errors where they happened, bounded, stoppable."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from mlgate.data.prefetch import prefetched


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(prefetched(iter(range(1000)), depth=3)) == list(range(1000))
    assert list(prefetched(iter([]))) == []


def test_an_error_of_the_reader_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row group 3 is damaged")

    got: list[int] = []
    with pytest.raises(ValueError, match="row group 3 is damaged"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2]


def _counted(n: int, produced: list[int]) -> Iterator[int]:
    """0 .. n-1, each noted in ``produced`` as the reader takes it."""
    for i in range(n):
        produced.append(i)
        yield i


def test_the_reader_stays_at_most_depth_items_ahead() -> None:
    produced: list[int] = []
    items = prefetched(_counted(100, produced), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # the reader runs ahead as far as it may
    # taken: 0; waiting in the queue: 1, 2; held by the reader, blocked on the full queue: 3
    assert len(produced) <= 4
    items.close()


def test_a_consumer_that_stops_early_stops_the_reader() -> None:
    produced: list[int] = []
    before = threading.active_count()
    for item in prefetched(_counted(10_000, produced), depth=2):
        if item == 5:
            break
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before  # the reading thread ended
    assert len(produced) < 20  # and did not read the rest
