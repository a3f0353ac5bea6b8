"""The micro-batcher: one event-loop turn per batch, one model call for concurrent requests."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mlgate.serve.batcher import MicroBatcher
from mlgate.serve.metrics import ServerMetrics
from mlgate.serve.model import Predictions


class _Doubler:
    """Predicts 2x, and remembers how many rows each call had."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, columns: dict[str, np.ndarray]) -> Predictions:
        self.calls.append(len(columns["x"]))
        return Predictions([v * 2 for v in columns["x"].tolist()])


def _batcher() -> tuple[MicroBatcher, _Doubler]:
    model = _Doubler()
    return MicroBatcher(model, ServerMetrics("1")), model  # type: ignore[arg-type]


def _row(v: float) -> dict[str, np.ndarray]:
    return {"x": np.array([v])}


def test_a_lone_request_waits_one_turn_not_two() -> None:
    batcher, model = _batcher()

    async def go() -> Any:
        coro = batcher.submit(_row(3.0), 1)
        assert coro.send(None) is None  # the one yield: others of this turn may queue now
        with pytest.raises(StopIteration) as done:  # and then it is answered, with no second wait
            coro.send(None)
        return done.value.value

    assert asyncio.run(go()).labels == [6.0] and model.calls == [1]


def test_requests_of_one_turn_share_one_call() -> None:
    batcher, model = _batcher()

    async def go() -> list[Predictions]:
        return await asyncio.gather(*(batcher.submit(_row(float(i)), 1) for i in range(16)))

    answers = asyncio.run(go())
    assert [p.labels for p in answers] == [[2.0 * i] for i in range(16)] and model.calls == [16]


def test_a_cancelled_leader_still_answers_its_followers() -> None:
    batcher, model = _batcher()

    async def go() -> list[Any]:
        leader = asyncio.ensure_future(batcher.submit(_row(1.0), 1))
        followers = [asyncio.ensure_future(batcher.submit(_row(2.0), 1)) for _ in range(3)]
        await asyncio.sleep(0)  # all four have queued; the leader waits for its turn
        leader.cancel()
        return await asyncio.gather(leader, *followers, return_exceptions=True)

    leader, *followers = asyncio.run(go())
    assert isinstance(leader, asyncio.CancelledError)
    assert [f.labels for f in followers] == [[4.0]] * 3 and model.calls == [4]
