"""The server freezes its start-up heap: garbage collected first, the rest out of full collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from mlgate.serve.app import freeze_start_up_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as before


def test_garbage_is_collected_and_the_live_heap_frozen(unfrozen: None) -> None:
    garbage = _Node()
    dead = weakref.ref(garbage)
    alive = _Node()
    del garbage
    assert dead() is not None  # a cycle: refcounting alone does not free it
    freeze_start_up_heap()
    assert dead() is None  # collected, not frozen for the server's life
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(alive)
    # the frozen objects are out of every generation: a full collection no longer walks them
    assert not any(o is alive for o in gc.get_objects(generation=2))
