"""The model test framework: one small unit per check family, in the ``MODEL_CHECKS`` table.

``run(model, data, config) -> Report`` is the Python API; ``MODEL_CHECKS`` the table of
checks. Imports are lazy because the pytest plugin in this package loads in every pytest run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODEL_CHECKS", "run"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from mlgate.modeltests.runner import run

        return run
    if name == "MODEL_CHECKS":
        from mlgate.modeltests.checks import MODEL_CHECKS

        return MODEL_CHECKS
    raise AttributeError(f"module 'mlgate.modeltests' has no attribute {name!r}")
