"""Business metrics: the cost of each answer from the config's cost matrix, against a baseline.

``business.costs`` gives each confusion cell a cost (``{actual: {predicted: cost}}``, negative
for a gain), ``business.cost_per_unit`` the cost of one unit of absolute error in regression.
Every test row then has a cost of the model's answer and of the baseline's, so

- ``expected_cost`` is the mean cost per row of the model's answers (lower is better),
- ``savings`` is the mean per row of (baseline's cost - model's cost) (higher is better),

both weighted sums of per-row values, so the bootstrap of ``mlgate.metrics`` gives their
intervals (paired with the baseline's costs on the same resamples) and compare's paired
bootstrap gives the interval of the difference between two models.

The baseline is ``majority`` (always the test rows' most common class), ``mean`` (always
the test rows' mean target) or ``production`` (the model behind the production alias; in
compare that is the model compared with). Those constants are taken on the test rows
themselves, so they are the best constant answer in hindsight: a model's savings against
them are, if anything, understated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from mlgate.config import BusinessConfig
    from mlgate.metrics import Predictions

_KEY = "business"


def baseline_kind(business: BusinessConfig, task: str) -> str:
    """``majority`` / ``mean`` (by task when not set) or ``production``; a mismatch is a ConfigError."""
    kind = business.baseline or ("mean" if task == "regression" else "majority")
    if kind == "mean" and task != "regression":
        raise ConfigError(f"{_KEY} -> baseline: 'mean' is a regression baseline; a {task} model "
                          "takes 'majority' or 'production'")
    if kind == "majority" and task == "regression":
        raise ConfigError(f"{_KEY} -> baseline: 'majority' is a classification baseline; a regression "
                          "model takes 'mean' or 'production'")
    return kind


def row_costs(business: BusinessConfig, p: Predictions, pred: np.ndarray | None = None) -> np.ndarray:
    """Each row's cost of the answer ``pred`` (default: the model's) under the config's costs."""
    import numpy as np

    pred = p.pred if pred is None else pred
    if p.task == "regression":
        if business.cost_per_unit is None:
            raise ConfigError(f"{_KEY} -> cost_per_unit: a regression model needs the cost of one unit of "
                              "error (business.costs is a confusion-cell matrix, for classification)")
        return business.cost_per_unit * np.abs(np.asarray(pred, dtype=float) - p.y)  # type: ignore[no-any-return]
    return _cell_costs(business, p.classes)[p.y, np.asarray(pred, dtype=np.int64)]  # type: ignore[no-any-return]


def _cell_costs(business: BusinessConfig, classes: list[object]) -> np.ndarray:
    """The (K, K) cost matrix over the model's classes; labels match by their text."""
    import numpy as np

    if not business.costs:
        raise ConfigError(f"{_KEY} -> costs: a classifier needs the cost of each confusion cell, "
                          "{actual: {predicted: cost}}")
    index = {str(c): i for i, c in enumerate(classes)}
    shown = ", ".join(index)
    matrix = np.zeros((len(classes), len(classes)))
    for actual, row in business.costs.items():
        if str(actual) not in index:
            raise ConfigError(f"{_KEY} -> costs -> {actual}: not a class of the model (classes: {shown})")
        for predicted, cost in row.items():
            if str(predicted) not in index:
                raise ConfigError(f"{_KEY} -> costs -> {actual} -> {predicted}: not a class of the model "
                                  f"(classes: {shown})")
            matrix[index[str(actual)], index[str(predicted)]] = float(cost)
    return matrix


def constant_answer(p: Predictions) -> np.ndarray:
    """The baseline's answer on every row: the most common class, or the mean target."""
    import numpy as np

    if p.task == "regression":
        return np.full(p.n, float(np.mean(p.y)))
    counts = np.bincount(p.y, minlength=len(p.classes))
    return np.full(p.n, int(np.argmax(counts)), dtype=np.int64)


def attach_costs(business: BusinessConfig, p: Predictions, baseline: Predictions | None = None) -> str:
    """Give ``p`` its per-row costs and the baseline's; return the baseline's name for reports.

    ``baseline`` is the production model's predictions on the same rows when the config
    names ``production`` and one exists; without it the constant answer stands in.
    """
    kind = baseline_kind(business, p.task)
    p.costs = row_costs(business, p)
    if kind == "production" and baseline is not None:
        p.baseline_costs = row_costs(business, baseline)
        return "production"
    p.baseline_costs = row_costs(business, p, constant_answer(p))
    return "mean" if p.task == "regression" else "majority"


def attach_pair(business: BusinessConfig, cand: Predictions, base: Predictions) -> str:
    """Costs of two models on the same rows, both against the one baseline compare names."""
    kind = baseline_kind(business, cand.task)
    cand.costs, base.costs = row_costs(business, cand), row_costs(business, base)
    if kind == "production":  # the model compared with is the production model
        cand.baseline_costs = base.baseline_costs = base.costs
        return "production"
    cand.baseline_costs = base.baseline_costs = row_costs(business, cand, constant_answer(cand))
    return kind
