"""Model evaluation: metrics with bootstrap intervals, thresholds, slices and plots.

``stage`` holds the evaluate and compare stage entries; ``baseline`` finds the production
model and runs the comparison against it.
"""

from __future__ import annotations

from mlgate.evaluation.core import Evaluation, evaluate_model

__all__ = ["Evaluation", "evaluate_model"]
