"""The table of model checks, in the seed's order; names are stable (YAML keys, report rows)."""

from __future__ import annotations

from mlgate.modeltests.base import ModelCheck
from mlgate.modeltests.checks.consistency import Consistency
from mlgate.modeltests.checks.distribution import DataDistribution
from mlgate.modeltests.checks.edge_cases import EdgeCases
from mlgate.modeltests.checks.fairness import Fairness
from mlgate.modeltests.checks.importance import FeatureImportance, Interpretability
from mlgate.modeltests.checks.inference import Inference
from mlgate.modeltests.checks.performance import Performance
from mlgate.modeltests.checks.reproducibility import Reproducibility
from mlgate.modeltests.checks.robustness import Robustness

MODEL_CHECKS: dict[str, type[ModelCheck]] = {c.name: c for c in (
    Performance, Consistency, Robustness, FeatureImportance, DataDistribution, Fairness,
    Inference, Interpretability, EdgeCases, Reproducibility,
)}

__all__ = ["MODEL_CHECKS", "ModelCheck"]
