"""The table of model checks, built-ins in the order of the reference pipeline, then plug-ins
(entry point group ``mlgate.model_checks``); names are stable (YAML keys, report rows)."""

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
from mlgate.plugins import PluginTable

MODEL_CHECKS: PluginTable[ModelCheck] = PluginTable("mlgate.model_checks", ModelCheck, (
    Performance, Consistency, Robustness, FeatureImportance, DataDistribution, Fairness,
    Inference, Interpretability, EdgeCases, Reproducibility,
))

__all__ = ["MODEL_CHECKS", "ModelCheck"]
