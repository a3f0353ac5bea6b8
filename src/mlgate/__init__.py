"""mlgate: CI/CD for machine learning as one tool.

The public Python API is re-exported here and resolved lazily, so ``import mlgate`` and
``mlgate --help`` stay fast: pandas, scikit-learn and MLflow load only when used.

    from mlgate import load_config, Pipeline
    record = Pipeline(load_config("mlgate.yaml")).run(until="evaluate")
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: `import typing` costs the no-op `mlgate run` a few ms
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "Check": ("mlgate.reports.model", "Check"),
    "Config": ("mlgate.config", "Config"),
    "GateFailed": ("mlgate.errors", "GateFailed"),
    "MlgateError": ("mlgate.errors", "MlgateError"),
    "Pipeline": ("mlgate.pipeline", "Pipeline"),
    "Report": ("mlgate.reports.model", "Report"),
    "load_config": ("mlgate.config", "load_config"),
    "load_model": ("mlgate.models", "load_model"),
    "run_model_tests": ("mlgate.modeltests.runner", "run"),
    "run_smoke": ("mlgate.smoke", "run_smoke"),
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'mlgate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
