"""The train matrix of a CI pipeline: one job per candidate, then one job that picks the best.

``mlgate train --candidate NAME --output .mlgate/candidates/NAME`` trains one candidate of
the config in its own job. ``mlgate train --pick-best .mlgate/candidates`` (the seed's
``evaluate_all_models``) reads those folders, picks the best on the selection metric the
way ``mlgate run`` does (the first in config order on a tie), and records the result as the
pipeline's train stage. The stage keeps the cache key ``mlgate run`` would give it (the key
depends on the config, the data and the upstream keys, not on how the stage ran), so the
jobs after it (``mlgate run --until test``) find train cached and go on from there.

Every candidate is trained with the same seed and validation split as in one process, so
the matrix reaches the same models, metrics and choice as ``mlgate run``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from functools import partial
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError, GateFailed, UsageError
from mlgate.models import METADATA_FILE, read_metadata
from mlgate.pipeline import STAGES, Pipeline
from mlgate.reports.model import Check, Report, Section, Timer
from mlgate.runs import read_json
from mlgate.tracking import experiment_id, setup_mlflow
from mlgate.train.stage import BEST_MODEL_FILE

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.context import StageContext
    from mlgate.runs import RunRecord

CANDIDATES_DIR = ".mlgate/candidates"


def pick_best(config: Config, folder: Path) -> RunRecord:
    """Run the pipeline up to train, with train assembled from the candidates in ``folder``."""
    if not folder.is_dir():
        raise UsageError(f"--pick-best {folder}: no such folder; it should hold one folder per candidate "
                         "written by `mlgate train --candidate NAME --output FOLDER/NAME`")
    # the pick reads the candidates' outputs, never the data: no pull (the key takes DVC's records)
    stages = tuple(replace(s, entry=partial(assemble_train, folder=folder), fetch_data=False)
                   if s.name == "train" else s for s in STAGES)
    pipeline = Pipeline(config, stages=stages)
    pipeline.check_inputs()
    return pipeline.run(until="train")


def assemble_train(ctx: StageContext, *, folder: Path) -> Report:
    """The train stage's report and model, from candidates trained in separate jobs."""
    labels = [m.label for m in ctx.config.models]
    report = Report(stage="train")
    with Timer(report):
        found = {label: _read_candidate(folder / label, label) for label in labels}
        unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in found)
        if unknown:
            raise ConfigError(f"{folder} holds {unknown[0]!r}, which is not a candidate in models: "
                              f"{', '.join(labels)}; was it trained from another config?")
        done = {k: v for k, v in found.items() if v is not None}
        _same_data(done)
        rows = [row for label in labels for row in _rows(found[label], label)]
        best = _best(rows)
        for row in rows:
            report.add(_check(row, best))
        if best is None:
            raise GateFailed("train: no candidate trained: "
                             + "; ".join(f"{r['label']}: {r['error']}" for r in rows))
        chosen = done[best["label"]]
        _install_model(chosen, ctx.out_dir)
        _adopt_run(ctx.config, chosen, best, ctx.out_dir / "model")
        _fill(report, chosen, rows, best, ctx.out_dir)
    return report


def _adopt_run(config: Config, chosen: dict[str, Any], best: dict[str, Any], model_dir: Path) -> None:
    """Give the chosen model a run in this job's store when its own run is not there.

    A matrix job with the embedded store logged its run into its own copy of
    ``.mlgate/mlflow.db``, which no later job receives: the pick's job logs the chosen model
    folder as a new run of the pipeline's store (which travels on in its artifacts), and the
    model's ``mlgate.json``, report and best_model.json name that run, so register finds it.
    With a tracking server every matrix job logged into the shared store: nothing to do.
    """
    run_id = chosen["best"].get("mlflow_run_id")
    client = setup_mlflow(config)
    if run_id:
        try:
            client.get_run(run_id)
            return
        except Exception:  # noqa: S110 - MLflow raises several kinds for a run another store holds
            pass
    run = client.create_run(experiment_id(config, client), tags={
        "mlflow.runName": f"{best['label']} (picked)", "mlgate.chosen": "true",
        "mlgate.candidate": best["label"], "mlgate.candidate_run": str(run_id or "")})
    new_id = run.info.run_id
    uri = f"runs:/{new_id}/model"
    info = read_metadata(model_dir)
    info.update({"mlflow_run_id": new_id, "model_uri": uri})
    (model_dir / METADATA_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    for key, value in best.get("metrics", {}).items():
        if isinstance(value, int | float):
            client.log_metric(new_id, key, float(value))
    client.log_artifacts(new_id, str(model_dir), "model")
    client.set_terminated(new_id)
    for doc in (chosen["best"], chosen["report"]):
        doc.update({"mlflow_run_id": new_id, "model_uri": uri})
    best["mlflow_run_id"] = new_id


def _read_candidate(path: Path, label: str) -> dict[str, Any] | None:
    """A candidate job's report.json and best_model.json, or None when the job left nothing."""
    report, best = read_json(path / "report.json"), read_json(path / BEST_MODEL_FILE)
    if not report or not best:
        return None
    if best.get("label") != label:
        raise ConfigError(f"{path} holds candidate {best.get('label')!r}, not {label!r}; write each "
                          "candidate into a folder named after it")
    return {"report": report, "best": best, "path": path}


def _same_data(done: dict[str, dict[str, Any]]) -> None:
    prints = {label: read_metadata(c["path"] / "model").get("data_fingerprint") for label, c in done.items()}
    if len(set(prints.values())) > 1:
        raise ConfigError("the candidates were trained on different data (data fingerprints "
                          f"{', '.join(f'{k}: {str(v)[:12]}' for k, v in prints.items())}); "
                          "train them all from the same commit")


def _rows(candidate: dict[str, Any] | None, label: str) -> list[dict[str, Any]]:
    if candidate is None:
        return [{"label": label, "model_type": "", "metrics": {}, "error": "its job left no output",
                 "fit_seconds": 0.0, "tuned": False, "chosen": False}]
    best = candidate["best"]
    rows = [dict(r) for r in best.get("candidates", []) if r.get("label") == label]
    for row in rows:
        row["metric"], row["greater"] = best["metric"], best["greater_is_better"]
    return rows


def _best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [r for r in rows if not r.get("error") and r.get("metric") in r.get("metrics", {})]
    if not scored:
        return None
    # max() keeps the first of equal keys, as train's pick_best does: config order on a tie
    return max(scored, key=lambda r: (1.0 if r["greater"] else -1.0) * r["metrics"][r["metric"]])


def _check(row: dict[str, Any], best: dict[str, Any] | None) -> Check:
    row["chosen"] = row is best
    if row.get("error"):
        return Check(name=f"train:{row['label']}", passed=False, severity="warning",
                     message=f"{row['label']} ({row['model_type'] or '?'}) failed: {row['error']}")
    metric, value = row["metric"], row["metrics"][row["metric"]]
    return Check(name=f"train:{row['label']}", passed=True, severity="info", observed=value,
                 message=(f"{row['label']}: validation {metric} {value:.4f} in {row['fit_seconds']:.1f} s"
                          + (" (chosen)" if row["chosen"] else "")),
                 details={"model_type": row["model_type"], "metrics": row["metrics"],
                          "mlflow_run_id": row.get("mlflow_run_id"), "tuned": row.get("tuned", False)})


def _install_model(chosen: dict[str, Any], out_dir: Path) -> None:
    target = out_dir / "model"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(chosen["path"] / "model", target)


def _fill(report: Report, chosen: dict[str, Any], rows: list[dict[str, Any]], best: dict[str, Any],
          out_dir: Path) -> None:
    clean = [{k: v for k, v in r.items() if k not in ("metric", "greater")} for r in rows]
    metric, value = best["metric"], best["metrics"][best["metric"]]
    best_doc = {**chosen["best"], "model_dir": str(out_dir / "model"), "candidates": clean,
                "picked_from": str(chosen["path"].parent)}
    (out_dir / BEST_MODEL_FILE).write_text(json.dumps(best_doc, indent=2) + "\n", encoding="utf-8")
    extras = dict(chosen["report"])
    keep = ("task", "selection_metric", "mlflow_run_id", "model_uri", "tuned_from", "features",
            "ignored_columns", "validation")
    report.extras = {k: extras.get(k) for k in keep}
    report.extras.update({"best": best_doc, "candidates": clean, "model_dir": str(out_dir / "model"),
                          "picked_from": best_doc["picked_from"]})
    report.metrics = dict(chosen["report"].get("metrics", {}))
    report.score = value if best["greater"] else None
    report.key_figure = (f"best {best['label']}: {metric} {value:.4f} "
                         f"({len(rows)} candidate{'s' if len(rows) > 1 else ''})")
    report.sections.append(Section(title="Candidates", html=_table(clean, metric)))


def _table(rows: list[dict[str, Any]], metric: str) -> str:
    body = "".join(
        f"<tr><td>{escape(r['label'])}{' ✓' if r['chosen'] else ''}</td><td>{escape(r['model_type'])}</td>"
        f"<td>{r['metrics'][metric]:.4f}</td></tr>" if metric in r["metrics"] else
        f"<tr><td>{escape(r['label'])}</td><td>{escape(r['model_type'])}</td><td>{escape(str(r['error']))}</td></tr>"
        for r in rows)
    return (f"<p>Trained in parallel CI jobs; best by validation {escape(metric)} (✓).</p>"
            f"<table><tr><th>candidate</th><th>type</th><th>{escape(metric)}</th></tr>{body}</table>")
