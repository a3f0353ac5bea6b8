"""Read the next batch of a table while the current one is checked.

Decoding a Parquet row group (pyarrow) releases the interpreter lock, so a thread that reads
ahead runs on the second core while the checks (pandas, numpy) run on the first. Measured on
the 10M-row benchmark table (``benchmarks/validate.py``, both tables streamed): the whole
``mlgate validate`` went from 18.0-18.8 s to 11.8-12.8 s wall on 2 cores, peak memory from
about 590 to 660 MiB (up to ``depth`` batches waiting).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL_S = 0.1  # how often a reader blocked on a full queue checks whether it was abandoned


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` in order, produced by a daemon thread up to ``depth`` ahead of the consumer.

    An exception raised by ``items`` is raised here, at the point where it was raised there
    (after the items before it). When the consumer stops early (an error of its own, ``close``),
    the thread stops at its next item instead of reading the rest of the table.
    """
    box: queue.Queue[tuple[str, object]] = queue.Queue(depth)
    abandoned = threading.Event()

    def hand_over(kind: str, value: object) -> bool:
        while not abandoned.is_set():
            try:
                box.put((kind, value), timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not hand_over("item", item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            hand_over("error", exc)
            return
        hand_over("end", None)

    threading.Thread(target=read, name="mlgate-read-ahead", daemon=True).start()
    try:
        while True:
            kind, value = box.get()
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        abandoned.set()
