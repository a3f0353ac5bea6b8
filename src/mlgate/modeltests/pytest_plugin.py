"""pytest plugin: ``pytest --mlgate-model PATH --mlgate-data PATH`` runs the model checks.

Registered through the ``pytest11`` entry point, so it is loaded by every pytest run in an
environment where mlgate is installed: keep this module's imports light.
"""

from __future__ import annotations

from typing import Any


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("mlgate", "mlgate model checks")
    group.addoption("--mlgate-model", default=None, help="Model to test (path or models:/ URI).")
    group.addoption("--mlgate-data", default=None, help="Test data (CSV or Parquet).")
