"""The train and tune stages: ``run_train(ctx)`` and ``run_tune(ctx)``, each a Report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError, GateFailed
from mlgate.reports.model import Check, Report, Section, Timer

if TYPE_CHECKING:
    from mlgate.context import StageContext
    from mlgate.train.training import Trained

BEST_PARAMS_FILE = "best_params.yaml"
BEST_MODEL_FILE = "best_model.json"
MODEL_DIR = "model"


def run_train(ctx: StageContext) -> Report:
    """Train every candidate of ``config.models``, pick the best on validation, save it."""
    from mlgate.data.io import frame_fingerprint
    from mlgate.tracking import experiment_id, git_commit, lineage_tags, setup_mlflow
    from mlgate.train.metrics import primary_metric
    from mlgate.train.preprocess import feature_set, infer_task
    from mlgate.train.runs import RunLogger
    from mlgate.train.training import VALIDATION_FRACTION, make_candidates, pick_best, train_all, validation_split

    config = ctx.config
    report = Report(stage="train")
    with Timer(report):
        ds = ctx.dataset()
        target = ds.target
        task = config.task or infer_task(ds.train[target], target)
        tuned = read_tuned(ctx)
        candidates = make_candidates(config.models, task, config.seed, tuned, config.root)
        features = feature_set(ds.train, target, config.data.id_columns)
        train_rows = ds.train.dropna(subset=[target])
        fit, val = validation_split(train_rows, target, task, config.seed)
        metric, greater = primary_metric(task)

        ctx.progress("opening the MLflow store", 0.02)
        client = setup_mlflow(config)
        tags = {**lineage_tags(config.root), "mlgate.stage": "train", "mlgate.task": task,
                "mlgate.pipeline_run": ctx.run_id}
        logger = RunLogger(client, experiment_id(config, client), tags)
        total = len(candidates)

        def on_start(i: int, cand: Any) -> None:
            ctx.progress(f"training {cand.label} ({i + 1}/{total})", 0.05 + 0.8 * i / total)

        def on_done(i: int, result: Trained) -> None:
            cand = result.candidate
            run_id = logger.start(cand.label, {"mlgate.model_type": cand.model_type,
                                              "mlgate.tuned": str(cand.tuned).lower()})
            result.run_id = run_id
            params = {"model_type": cand.model_type, **_estimator_params(cand.estimator)}
            metrics = {f"val_{k}": v for k, v in result.metrics.items()}
            metrics["fit_seconds"] = result.fit_seconds
            logger.log(run_id, params=params, metrics=metrics,
                       tags={"mlgate.error": result.error} if result.error else None)
            logger.end(run_id, ok=result.error is None)

        results = train_all(candidates, features, task, fit, val, target, on_done, on_start)
        best = pick_best(results, task)
        for result in results:
            report.add(_candidate_check(result, metric, best))
        if best is None:
            raise GateFailed("train: every candidate failed to train: "
                             + "; ".join(f"{r.candidate.label}: {r.error}" for r in results))

        ctx.progress(f"saving {best.candidate.label}", 0.9)
        info = {
            "name": config.model_name,
            "model_type": best.candidate.model_type,
            "label": best.candidate.label,
            "params": best.candidate.params,
            "tuned": best.candidate.tuned,
            "seed": config.seed,
            "task": task,
            "target": target,
            "features": features.columns,
            "dtypes": {c: str(ds.train[c].dtype) for c in features.columns},
            "ignored_columns": features.ignored,
            "classes": _classes(best.pipeline) if task != "regression" else None,
            "metrics": best.metrics,
            "metrics_split": "validation",
            "selection_metric": metric,
            "trained_on": {"rows": len(fit), "validation_rows": len(val),
                           "validation_fraction": VALIDATION_FRACTION,
                           "note": "trained on the train table minus the validation split; not refit"},
            "mlflow_run_id": best.run_id,
            "model_uri": f"runs:/{best.run_id}/{MODEL_DIR}",
            "data_fingerprint": frame_fingerprint(ds.train),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(config.root),
        }
        if info["classes"] is None:
            info.pop("classes")
        model_dir = save_trained(best, ctx.out_dir / MODEL_DIR, info, fit[features.columns].head(5))
        client.log_artifacts(best.run_id, str(model_dir), MODEL_DIR)
        client.set_tag(best.run_id, "mlgate.chosen", "true")

        rows = [_candidate_row(r, best) for r in results]
        best_doc = {"model_type": best.candidate.model_type, "label": best.candidate.label,
                    "metric": metric, "greater_is_better": greater, "metrics": best.metrics,
                    "mlflow_run_id": best.run_id, "model_uri": info["model_uri"],
                    "model_dir": str(model_dir), "candidates": rows}
        (ctx.out_dir / BEST_MODEL_FILE).write_text(json.dumps(best_doc, indent=2) + "\n",
                                                    encoding="utf-8")
        report.metrics = {k: round(v, 6) for k, v in best.metrics.items()}
        report.score = best.metrics.get(metric) if greater else None
        report.key_figure = (f"best {best.candidate.label}: {metric} {best.metrics[metric]:.4f} "
                             f"({len(results)} candidate{'s' if len(results) > 1 else ''})")
        report.extras = {"task": task, "selection_metric": metric, "best": best_doc,
                         "candidates": rows, "model_dir": str(model_dir),
                         "mlflow_run_id": best.run_id, "model_uri": info["model_uri"],
                         "tuned_from": tuned.get("source") if tuned else None,
                         "features": features.columns, "ignored_columns": features.ignored,
                         "validation": info["trained_on"]}
        report.sections.append(Section(title="Candidates", html=_rows_html(rows, metric)))
        ctx.progress("done", 1.0)
    return report


def save_trained(best: Trained, folder: Path, info: dict[str, Any], example: Any) -> Path:
    """Write the chosen pipeline as an MLflow model folder with mlgate.json."""
    import shutil

    from mlgate.models import save_model

    if folder.exists():
        shutil.rmtree(folder)
    return save_model(best.pipeline, folder, info, input_example=example)


def read_tuned(ctx: StageContext) -> dict[str, Any] | None:
    """The tune stage's ``best_params.yaml`` when tune ran upstream, else None."""
    folder = ctx.upstream.get("tune")
    if folder is None:
        return None
    return read_best_params(Path(folder) / BEST_PARAMS_FILE)


def read_best_params(path: Path) -> dict[str, Any] | None:
    """``{model_type, params, ...}`` from a best-params YAML; None when the file is absent."""
    import yaml

    if not path.exists():
        return None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or "model_type" not in doc or not isinstance(doc.get("params"), dict):
        raise ConfigError(f"{path} must hold a mapping with 'model_type' and 'params' "
                          "(as written by `mlgate tune`)")
    doc["source"] = str(path)
    return doc


def run_tune(ctx: StageContext) -> Report:
    """Run the Optuna study of ``config.tune`` and write ``best_params.yaml``."""
    from mlgate.train.tuning import tune_stage

    return tune_stage(ctx)


def _estimator_params(estimator: Any) -> dict[str, Any]:
    try:
        return dict(estimator.get_params(deep=False))
    except Exception:  # a custom estimator without get_params: log nothing rather than fail
        return {}


def _classes(pipeline: Any) -> list[Any]:
    return [c.item() if hasattr(c, "item") else c for c in getattr(pipeline, "classes_", [])]


def _candidate_check(result: Trained, metric: str, best: Trained | None) -> Check:
    cand = result.candidate
    if result.error:
        return Check(name=f"train:{cand.label}", passed=False, severity="warning",
                     message=f"{cand.label} ({cand.model_type}) failed: {result.error}",
                     details={"model_type": cand.model_type})
    chosen = result is best
    value = result.metrics.get(metric)
    return Check(name=f"train:{cand.label}", passed=True, severity="info", observed=value,
                 message=(f"{cand.label}: validation {metric} {value:.4f} in {result.fit_seconds:.1f} s"
                          + (" (chosen)" if chosen else "")),
                 details={"model_type": cand.model_type, "metrics": result.metrics,
                          "mlflow_run_id": result.run_id, "tuned": cand.tuned})


def _candidate_row(result: Trained, best: Trained) -> dict[str, Any]:
    cand = result.candidate
    return {"label": cand.label, "model_type": cand.model_type, "tuned": cand.tuned,
            "chosen": result is best, "metrics": {k: round(v, 6) for k, v in result.metrics.items()},
            "fit_seconds": result.fit_seconds, "mlflow_run_id": result.run_id,
            "params": {k: _jsonable(v) for k, v in cand.params.items()}, "error": result.error}


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _rows_html(rows: list[dict[str, Any]], metric: str) -> str:
    from html import escape

    names = sorted({k for r in rows for k in r["metrics"]})
    head = "".join(f"<th>{escape(n)}</th>" for n in ["candidate", "type", *names, "fit s", "run"])
    body = []
    for r in rows:
        cells = [escape(r["label"]) + (" ✓" if r["chosen"] else ""), escape(r["model_type"])]
        cells += [f"{r['metrics'][n]:.4f}" if n in r["metrics"] else "–" for n in names]
        cells += [f"{r['fit_seconds']:.1f}", escape(str(r["mlflow_run_id"] or ""))]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<p>Best by validation {escape(metric)}; ✓ marks the saved model.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
