"""Model evaluation: metrics with bootstrap intervals, thresholds, slices and plots.

``mlgate.evaluate`` holds the stage entry; ``mlgate.compare`` reuses the inputs helpers.
"""

from __future__ import annotations

from mlgate.evaluation.core import Evaluation, evaluate_model

__all__ = ["Evaluation", "evaluate_model"]
