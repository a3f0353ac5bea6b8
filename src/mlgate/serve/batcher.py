"""Micro-batching: the rows of concurrent requests predicted in one model call.

A scikit-learn Pipeline costs about the same for 1 row as for 32, so under load requests
that arrive in the same event-loop turn share one call. The first request to queue (the
leader) yields once, so every request task already woken in this turn can queue its rows,
then predicts them all in its own task and hands each follower its slice: one event-loop
turn per batch (a callback scheduled with ``call_soon`` and a future to wake the request
cost two).

The one turn stays even for a lone request: the requests the server has read but whose
tasks have not run yet are invisible to the application, so skipping the turn when "no one
else is waiting" cannot be decided. Measured (BENCHMARKS.md, issue 16): answering at once
after a lone leader cut throughput at concurrency 8 by about a third and gained nothing
measurable at concurrency 1.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np

from mlgate.serve.model import Predictions
from mlgate.serve.schema import InputError

if TYPE_CHECKING:
    from mlgate.serve.metrics import ServerMetrics
    from mlgate.serve.model import ServedModel

_Item = tuple[dict[str, np.ndarray], int, "asyncio.Future[Predictions]"]


class MicroBatcher:
    """Collect the rows of concurrent requests and predict them in one model call."""

    def __init__(self, model: ServedModel, metrics: ServerMetrics, max_rows: int = 512) -> None:
        self.model = model
        self.metrics = metrics
        self.max_rows = max_rows
        self._pending: list[_Item] = []

    async def submit(self, columns: dict[str, np.ndarray], n: int) -> Predictions:
        """The predictions for ``n`` validated rows; InputError when the model refuses them."""
        future: asyncio.Future[Predictions] = asyncio.get_running_loop().create_future()
        self._pending.append((columns, n, future))
        if len(self._pending) == 1:  # the leader: let the others of this turn queue, then predict
            try:
                await asyncio.sleep(0)
            finally:  # even when cancelled: the followers wait on this flush
                self._flush()
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        group: list[_Item] = []
        rows = 0
        for item in pending:
            if group and rows + item[1] > self.max_rows:
                self._run(group)
                group, rows = [], 0
            group.append(item)
            rows += item[1]
        if group:
            self._run(group)

    def _run(self, group: list[_Item]) -> None:
        if len(group) == 1:
            self._settle(*group[0])
            return
        names = list(group[0][0])
        merged = {k: np.concatenate([g[0][k] for g in group]) if _same_kind(group, k)
                  else np.concatenate([g[0][k].astype(object) for g in group]) for k in names}
        total = sum(g[1] for g in group)
        try:
            out = self.model.predict(merged)
        except Exception:  # one bad request must not fail its neighbours: retry one by one
            for columns, n, future in group:
                self._settle(columns, n, future)
            return
        self.metrics.batch_rows.observe(total)

        start = 0
        for _, n, future in group:
            if not future.done():  # a client may have gone away
                probs = out.probabilities[start:start + n] if out.probabilities is not None else None
                future.set_result(Predictions(out.labels[start:start + n], probs))
            start += n

    def _settle(self, columns: dict[str, np.ndarray], n: int, future: asyncio.Future[Predictions]) -> None:
        try:
            out = self._predict_alone(columns, n)
        except InputError as error:
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(out)

    def _predict_alone(self, columns: dict[str, np.ndarray], n: int) -> Predictions:
        try:
            out = self.model.predict(columns)
        except Exception as exc:  # the model refused rows the schema accepted
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(422, f"the model cannot predict this input: {first[:300]}",
                             reason="model_error") from exc
        self.metrics.batch_rows.observe(n)
        return out


def _same_kind(group: list[Any], key: str) -> bool:
    kinds = {g[0][key].dtype for g in group}
    return len(kinds) == 1
