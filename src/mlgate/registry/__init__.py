"""The model registry: MLflow's, with mlgate's tags, aliases and concurrency-safe writes.

    store      opening the store, retried writes, model-file hashes
    register   a version with lineage tags, metrics and an alias
    stage      the pipeline's register stage
    peek       alias lookups straight from a SQLite store, without importing MLflow
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing stays out of the no-op run's imports
if TYPE_CHECKING:
    from typing import Any

# Lazy, so that `mlgate.registry.peek` (read on every no-op run) imports neither pydantic nor MLflow.
_EXPORTS = {
    "REGISTERED_FILE": "register", "Registered": "register", "Registration": "register",
    "register": "register", "register_outside": "register",
    "registration_report": "register", "version_tags": "register", "wrap_pickle": "register",
    "run_register": "stage", "upstream_gates": "stage",
    "model_sha256": "store", "open_store": "store", "retry": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mlgate.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mlgate.registry.{_EXPORTS[name]}"), name)
