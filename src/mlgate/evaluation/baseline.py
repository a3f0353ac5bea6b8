"""The candidate against the model behind the ``production`` alias.

No registry yet, no such model or no such alias: the gate passes and says so, without
importing MLflow when the project's SQLite store does not even exist.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import RegistryError
from mlgate.evaluation.versus_baseline import compare_models
from mlgate.models import load_model
from mlgate.registry import open_store
from mlgate.reports.model import Check, Report
from mlgate.tracking import tracking_uri

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Config
    from mlgate.models import LoadedModel

DECISION_FILE = "decision.json"


def compare_with(config: Config, candidate: LoadedModel, baseline: LoadedModel | None, note: str,
                 frame: pd.DataFrame | None, out_dir: Path) -> Report:
    """Run the comparison (or the no-baseline pass), write decision.json, return the report."""
    t0 = time.perf_counter()
    gate = config.gates.compare
    if baseline is None or frame is None:
        report = Report(stage="compare", key_figure=f"no {gate.baseline_alias} model: pass")
        report.add(Check(name="baseline_exists", passed=True, severity="info", message=note))
        decision: dict[str, Any] = {"decision": "pass", "reason": note, "baseline": None,
                                    "candidate": candidate.source}
    else:
        report, outcome = compare_models(candidate, baseline, frame, config.data.target, gate,
                                         task=config.task, seed=config.seed,
                                         id_columns=config.data.id_columns, business=config.business)
        failed = [c.message for c in report.failures]
        decision = {"decision": "pass" if report.passed else "fail",
                    "reason": "; ".join(failed) if failed else f"{outcome.metric}: {outcome.verdict}, every rule holds",
                    "significance": outcome.verdict, "metric": outcome.metric,
                    "greater_is_better": outcome.greater_is_better,
                    "candidate": {"source": candidate.source, "value": outcome.candidate},
                    "baseline": {"uri": baseline.source, "version": baseline.version, "value": outcome.baseline},
                    "delta": outcome.delta, "improvement": outcome.improvement,
                    "improvement_ci": list(outcome.ci), "confidence": outcome.level,
                    "p_value": outcome.p_value, "mcnemar": outcome.mcnemar,
                    "metrics": outcome.table, "rules": [c.model_dump() for c in report.checks]}
        report.extras = {"significance": outcome.verdict, "baseline_version": baseline.version,
                         "metric": outcome.metric, "comparison": outcome.table}
    report.duration_s = round(time.perf_counter() - t0, 3)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DECISION_FILE).write_text(json.dumps(decision, indent=2, default=str) + "\n", encoding="utf-8")
    return report


def find_baseline(config: Config, alias: str | None = None) -> tuple[LoadedModel | None, str]:
    """The model behind ``alias`` of the project's registered model, or None and why not."""
    alias = alias or config.gates.compare.baseline_alias
    name = config.model_name
    uri = tracking_uri(config)
    store = _sqlite_file(uri)
    if store is not None and not store.exists():
        return None, f"no registry yet ({store} does not exist): no {alias} model to compare with, pass"

    client = open_store(config)
    try:
        version = client.get_model_version_by_alias(name, alias)
    except Exception as exc:  # MLflow raises MlflowException for a missing model or alias
        code = getattr(exc, "error_code", "")
        if code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise RegistryError(f"cannot look up {name}@{alias} in {uri}: {exc}") from exc
        return None, f"no version of model {name!r} has the alias {alias!r} yet: nothing to compare with, pass"
    loaded = load_model(f"models:/{name}/{version.version}", config)
    loaded.version = str(version.version)
    return loaded, f"{name} v{version.version} @{alias}"


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None
