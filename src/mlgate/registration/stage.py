"""The register stage: the pipeline's candidate once every upstream gate has passed, or a model
named by ``mlgate register --model`` (an MLflow folder or a joblib/pickle file from elsewhere)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.models import read_metadata
from mlgate.monitor.reference import profile_check
from mlgate.registration.register import (
    RegisterOptions,
    Registration,
    evaluation_metrics,
    numbers,
    register,
    register_outside,
    registration_report,
    version_tags,
)
from mlgate.reports.model import Check, Report

if TYPE_CHECKING:
    from mlgate.context import StageContext


def run_register(ctx: StageContext, options: RegisterOptions | None = None) -> Report:
    """Register the train stage's model with the evaluation metrics and the gates' verdicts.

    With ``--model`` (``ctx.model``), the model from outside the pipeline instead: checked by the
    model loader's allow list unless ``options.trust``, tagged with the fingerprint of
    ``options.training_data`` (``--data``).
    """
    t0 = time.perf_counter()
    if not ctx.candidate_from_pipeline:
        report = register_outside(ctx, options)
        report.duration_s = round(time.perf_counter() - t0, 3)
        return report
    folder = Path(ctx.candidate_spec())
    info = read_metadata(folder)
    gates = upstream_gates(ctx.upstream)
    failed = sorted(stage for stage, verdict in gates.items() if not verdict["passed"])
    if failed:  # never give a version to a model that did not pass its gates
        report = Report(stage="register", key_figure=f"not registered: {', '.join(failed)} failed")
        report.add(Check(name="upstream_gates", passed=False, observed=failed, expected=[],
                         message=f"not registered: the gate(s) {', '.join(failed)} did not pass"))
        report.duration_s = round(time.perf_counter() - t0, 3)
        return report
    metrics = evaluation_metrics(ctx.upstream.get("evaluate")) or numbers(info.get("metrics", {}))
    request = Registration(folder, ctx.config.model_name, ctx.config.registry.alias,
                           model_uri=info.get("model_uri"), metrics=metrics,
                           tags=version_tags(ctx.config, info, gates))
    ctx.progress(f"registering {request.name}", 0.3)
    result = register(ctx.config, request)
    result.write(ctx.out_dir)

    ctx.progress("storing the monitor reference profile", 0.7)
    profile = profile_check(ctx.config, folder, result.run_id, ctx.out_dir)
    report = registration_report(result, gates)
    report.add(profile)  # a warning when it could not be stored: monitor then needs --reference
    report.extras["monitor_profile"] = profile.message
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def upstream_gates(upstream: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """``{stage: {passed, key_figure}}`` read from each upstream stage's report.json."""
    gates: dict[str, dict[str, Any]] = {}
    for stage, folder in sorted(upstream.items()):
        path = Path(folder) / "report.json"
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        gates[stage] = {"passed": bool(body.get("passed")), "key_figure": body.get("key_figure", "")}
    return gates
