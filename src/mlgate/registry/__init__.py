"""The model registry: MLflow's, with mlgate's tags, aliases and concurrency-safe writes.

    store      opening the store, retried writes, model-file hashes
    uri        parsing models:/ URIs and resolving them to a version
    peek       alias lookups straight from a SQLite store, without importing MLflow

Registering a version (the register stage, ``mlgate register``) is ``mlgate.registration``'s.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing stays out of the no-op run's imports
if TYPE_CHECKING:
    from typing import Any

# Lazy, so that `mlgate.registry.peek` (read on every no-op run) imports neither pydantic nor MLflow.
_EXPORTS = {"model_sha256": "store", "open_store": "store", "retry": "store"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mlgate.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mlgate.registry.{_EXPORTS[name]}"), name)
