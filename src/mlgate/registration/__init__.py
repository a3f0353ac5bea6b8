"""Registration: the register stage and ``mlgate register``, above ``mlgate.registry``.

    register   a version with lineage tags, metrics, an alias and its monitor profile
    stage      the pipeline's register stage

It stores the monitor profile (``mlgate.monitor.reference``), which reads the registry back
through ``mlgate.registry``; so registration sits above both and the two never import each other.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing stays out of the no-op run's imports
if TYPE_CHECKING:
    from typing import Any

_EXPORTS = {
    "REGISTERED_FILE": "register", "RegisterOptions": "register", "Registered": "register",
    "Registration": "register",
    "register": "register", "register_outside": "register",
    "registration_report": "register", "version_tags": "register", "wrap_pickle": "register",
    "run_register": "stage", "upstream_gates": "stage",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mlgate.registration' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mlgate.registration.{_EXPORTS[name]}"), name)
