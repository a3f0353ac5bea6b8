"""pytest plugin: ``pytest --mlgate-model PATH --mlgate-data PATH`` runs the model checks.

Registered through the ``pytest11`` entry point, so it is loaded by every pytest run in an
environment where mlgate is installed: it imports nothing heavy at module level and adds
no test unless ``--mlgate-model`` is given. Then it adds one test per check
(``mlgate::performance``, ``mlgate::fairness``, ...), which share one loaded model and one
set of predictions; select some with ``-k``, as with any test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

_STATE: dict[str, Any] = {}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("mlgate", "mlgate model checks")
    group.addoption("--mlgate-model", default=None, help="Model to test (path or models:/ URI).")
    group.addoption("--mlgate-data", default=None, help="Test data (CSV or Parquet).")
    group.addoption("--mlgate-reference", default=None, help="Training data (enables shift and retraining).")
    group.addoption("--mlgate-target", default=None, help="Target column.")
    group.addoption("--mlgate-protected", default=None, help="Protected attributes, comma-separated.")
    group.addoption("--mlgate-config", default=None, help="mlgate.yaml with gates.test thresholds.")
    group.addoption("--mlgate-checks", default=None, help="Checks to run, comma-separated (default: all).")


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if not config.getoption("--mlgate-model"):
        return
    if not config.getoption("--mlgate-data"):
        raise pytest.UsageError("--mlgate-model needs --mlgate-data (a CSV or Parquet file)")
    from mlgate.modeltests.checks import MODEL_CHECKS

    wanted = _split(config.getoption("--mlgate-checks")) or list(MODEL_CHECKS)
    unknown = [n for n in wanted if n not in MODEL_CHECKS]
    if unknown:
        raise pytest.UsageError(f"--mlgate-checks: unknown {unknown}; known: {', '.join(MODEL_CHECKS)}")
    items.extend(ModelCheckItem.from_parent(session, name=f"mlgate::{name}", check=name)
                 for name in wanted)


class ModelCheckItem(pytest.Item):
    """One model check as a test: fails with the check's message, skips when it cannot run."""

    def __init__(self, *, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        from mlgate.errors import MlgateError
        from mlgate.modeltests.runner import build_checks, run_one

        try:
            subject, gate = _subject(self.config)
        except MlgateError as exc:  # bad model or data: one clear line, no traceback
            pytest.fail(f"mlgate: {exc}", pytrace=False)
        (instance,) = build_checks(gate, [self.check])
        with subject.few_threads(gate.threads):
            outcome = run_one(instance, subject)
        if outcome.skipped:
            pytest.skip(outcome.checks[0].message)
        failed = [c for c in outcome.checks if c.blocks]
        if failed:
            raise ModelCheckFailed("\n".join(c.message for c in failed))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, ModelCheckFailed):
            return f"mlgate {self.check} failed: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.config.getoption("--mlgate-model"), None, f"mlgate::{self.check}"


class ModelCheckFailed(Exception):
    """A model check fell short; its message is the check's own."""


def _subject(config: Any) -> tuple[Any, Any]:
    """The model, data and thresholds, loaded once per pytest session (a failure too)."""
    if "error" in _STATE:
        raise _STATE["error"]
    try:
        return _load(config)
    except Exception as exc:
        _STATE["error"] = exc
        raise


def _load(config: Any) -> tuple[Any, Any]:
    if "subject" not in _STATE:
        from mlgate.config import TestGate, load_config
        from mlgate.data.io import load_table
        from mlgate.models import load_model
        from mlgate.modeltests.runner import build_subject

        cfg_path = config.getoption("--mlgate-config")
        # like the commands: --mlgate-config, else ./mlgate.yaml when there is one (security.public_key,
        # security.trusted_types and the gates apply here too)
        if not cfg_path and (Path.cwd() / "mlgate.yaml").exists():
            cfg_path = str(Path.cwd() / "mlgate.yaml")
        cfg = load_config(cfg_path) if cfg_path else None
        reference = config.getoption("--mlgate-reference")
        loaded = load_model(config.getoption("--mlgate-model"), cfg)
        protected = _split(config.getoption("--mlgate-protected")) or (
            list(cfg.data.protected) if cfg else [])
        _STATE["gate"] = cfg.gates.test if cfg else TestGate()
        _STATE["subject"] = build_subject(
            loaded, load_table(config.getoption("--mlgate-data")),
            reference=load_table(reference) if reference else None,
            target=config.getoption("--mlgate-target") or (cfg.data.target if cfg else None),
            protected=protected, seed=None)
    return _STATE["subject"], _STATE["gate"]


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]
