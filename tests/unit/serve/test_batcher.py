"""The micro-batcher: no event-loop turn for a lone request, one model call for concurrent ones."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mlgate.serve.batcher import QUIET_RUN, MicroBatcher
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


def test_a_lone_request_after_a_lone_one_is_answered_without_a_turn() -> None:
    batcher, model = _batcher()

    async def go() -> list[Any]:
        labels = [(await batcher.submit(_row(1.0), 1)).labels]  # batched path: alone, so quiet now
        for i in range(QUIET_RUN - 1):
            coro = batcher.submit(_row(float(i)), 1)
            with pytest.raises(StopIteration) as done:  # finished on its first step: no suspension
                coro.send(None)
            labels.append(done.value.value.labels)
        probe = batcher.submit(_row(5.0), 1)
        assert probe.send(None) is None  # every QUIET_RUN-th request yields once to look for others
        labels.append((await asyncio.ensure_future(_finish(probe))).labels)
        return labels

    labels = asyncio.run(go())
    assert labels == [[2.0], *[[2.0 * i] for i in range(QUIET_RUN - 1)], [10.0]]
    assert model.calls == [1] * (QUIET_RUN + 1)


async def _finish(coro: Any) -> Any:
    try:
        while True:
            coro.send(None)
            await asyncio.sleep(0)
    except StopIteration as stop:
        return stop.value


def test_requests_that_queue_up_share_one_call_even_after_a_quiet_spell() -> None:
    batcher, model = _batcher()

    async def go() -> None:
        await batcher.submit(_row(0.0), 1)  # quiet from here
        first = await asyncio.gather(*(batcher.submit(_row(float(i)), 1) for i in range(16)))
        second = await asyncio.gather(*(batcher.submit(_row(float(i)), 1) for i in range(16)))
        assert [p.labels for p in first] == [p.labels for p in second] == [[2.0 * i] for i in range(16)]

    asyncio.run(go())
    quiet = QUIET_RUN - 1  # answered at once before the batcher looked and found the queue
    assert model.calls == [1] + [1] * quiet + [16 - quiet] + [16]


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
