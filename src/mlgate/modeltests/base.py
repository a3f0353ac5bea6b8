"""What every model check gets (a ``Subject``) and gives back (an ``Outcome``)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from mlgate.check_base import CheckBase
from mlgate.reports.model import Check, Figure

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlgate.models import LoadedModel

@dataclass
class Subject:
    """The model under test, its test rows and what the checks share (cached predictions)."""

    model: LoadedModel
    X: pd.DataFrame
    y: np.ndarray
    task: str
    classes: np.ndarray | None = None
    reference: pd.DataFrame | None = None  # training features, for shift and retraining
    reference_y: np.ndarray | None = None
    fit_X: pd.DataFrame | None = None  # the rows the model was fitted on, when not all of reference
    fit_y: np.ndarray | None = None
    fit_unknown: str | None = None  # why the model's own fit rows could not be found (reproducibility)
    groups: dict[str, pd.Series] = field(default_factory=dict)  # protected attribute values
    seed: int = 42
    notes: list[str] = field(default_factory=list)  # subsampling and other caveats
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def estimator(self) -> Any:
        return self.model.estimator

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    def training_rows(self) -> tuple[pd.DataFrame, np.ndarray] | None:
        """The rows to retrain on: the model's own fit rows if known, else the reference."""
        if self.fit_X is not None and self.fit_y is not None:
            return self.fit_X, self.fit_y
        if self.reference is not None and self.reference_y is not None:
            return self.reference, self.reference_y
        return None

    def predict(self) -> np.ndarray:
        """Predictions on all test rows, computed once."""
        if "pred" not in self.cache:
            import numpy as np

            self.cache["pred"] = np.asarray(self.estimator.predict(self.X))
        return self.cache["pred"]  # type: ignore[no-any-return]

    def proba(self) -> np.ndarray | None:
        """Class probabilities on all test rows (None for regressors), computed once."""
        if "proba" not in self.cache:
            import numpy as np

            has = self.is_classifier and hasattr(self.estimator, "predict_proba")
            self.cache["proba"] = np.asarray(self.estimator.predict_proba(self.X)) if has else None
        return self.cache["proba"]  # type: ignore[no-any-return]

    def few_threads(self, limit: int | None = 1) -> Any:
        """A context limiting native thread pools (OpenMP, BLAS) for tiny calls.

        Gradient boosting starts its OpenMP threads on every call; for one row that costs
        more than the prediction (7 ms against 0.5 ms measured here), and servers run one
        thread per worker anyway.
        """
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limit) if limit else nullcontext()

    def sample(self, n_rows: int, salt: int = 0) -> np.ndarray:
        """Row positions of a seeded subsample of at most ``n_rows`` test rows (sorted)."""
        import numpy as np

        n = len(self.X)
        if n <= n_rows:
            return np.arange(n)
        rng = np.random.default_rng(self.seed + salt)
        return np.sort(rng.choice(n, size=n_rows, replace=False))


@dataclass
class Outcome:
    """What one check family found: report rows, metrics, plots and free-form details."""

    checks: list[Check]
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


class ModelCheck(CheckBase):
    """A check family: the shared check core (name, severity, ``enabled``, report rows); its config
    keys are the pydantic fields, its verdict comes from ``run``."""

    summary: ClassVar[str] = ""
    severity: Literal["error", "warning"] = "error"

    def run(self, subject: Subject) -> Outcome:
        raise NotImplementedError

    def result(self, passed: bool, message: str, *, observed: Any = None, expected: Any = None,
               column: str | None = None, details: dict[str, Any] | None = None) -> Check:
        """A report row for this check with its configured severity."""
        return self.row(passed, message, column=column, observed=observed, expected=expected, details=details)

    def skip(self, reason: str) -> Outcome:
        """An informational row: the check could not run here, and why."""
        return Outcome(checks=[self.row(True, f"skipped: {reason}", severity="info")], skipped=True)
