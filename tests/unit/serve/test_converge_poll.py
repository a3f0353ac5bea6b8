"""A worker's watcher reads the state folder only when it changed (one stat per poll otherwise),
and still sees every prepare and commit, however soon after the last one it is written."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from mlgate.serve.converge import POLL_S, StateDir, Watcher
from mlgate.serve.plan import ModelRef, initial_plan


def _age(folder: Path, seconds: float) -> None:
    """Make the folder look unchanged for ``seconds``."""
    old = os.stat(folder).st_mtime - seconds
    os.utime(folder, (old, old))


class CountingWatcher(Watcher):
    steps = 0

    async def step(self) -> None:
        self.steps += 1
        await super().step()


def _watcher(state: StateDir, swapped: list[int]) -> CountingWatcher:
    return CountingWatcher(state, load=lambda plan: plan.generation,
                           swap=lambda plan, loaded: swapped.append(loaded))


async def _run_for(watcher: Watcher, seconds: float, during: Any = None) -> None:
    task = asyncio.get_running_loop().create_task(watcher.run())
    try:
        if during is not None:
            await asyncio.sleep(seconds / 2)
            during()
            await asyncio.sleep(seconds / 2)
        else:
            await asyncio.sleep(seconds)
    finally:
        task.cancel()


def test_a_quiet_folder_is_stat_not_read(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.start(initial_plan(ModelRef("1", "unused")))
    swapped: list[int] = []
    watcher = _watcher(state, swapped)
    watcher.start_sync()
    _age(tmp_path, 5)
    asyncio.run(_run_for(watcher, 20 * POLL_S))
    assert watcher.steps == 1  # the first poll reads; the next ~19 see the same stamp
    assert swapped == [1]


def test_a_prepare_and_commit_are_seen_right_after_the_last_change(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    first = initial_plan(ModelRef("1", "unused"))
    state.start(first)
    swapped: list[int] = []
    watcher = _watcher(state, swapped)
    watcher.start_sync()

    def switch() -> None:  # written within the same coarse clock tick as the folder's last change
        plan = initial_plan(ModelRef("2", "unused"))
        plan = type(plan).from_dict({**plan.to_dict(), "generation": 2})
        state.write_plan(plan)
        state.set_prepare(2)
        state.set_commit(2)

    asyncio.run(_run_for(watcher, 30 * POLL_S, during=switch))
    assert swapped == [1, 2]
    assert watcher.live == 2
    assert state.acks("live", 2) == ["ok"]
