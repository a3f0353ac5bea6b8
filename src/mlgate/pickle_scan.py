"""Deprecated: the pickle check moved to :mod:`mlgate.security` (an exact allow-list, decided
from the opcodes before anything is built). These two names remain for existing callers."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def refused(module: str, name: str) -> bool:
    """True when a model file may not name ``module.name`` (see ``mlgate.security.allowlist``)."""
    from mlgate.security.allowlist import policy_from

    return not policy_from().allows(module, name)


def safe_load(path: Path, *, trust: bool = False) -> Any:
    """Load a joblib/pickle file through the fail-closed loader (``trust`` skips the check, loudly)."""
    from mlgate.security.allowlist import policy_from
    from mlgate.security.loader import load_file

    return load_file(path, policy_from(trust_all=trust))
