"""The train and tune stages: ``run_train(ctx)`` and ``run_tune(ctx)``, each a Report."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import frame_fingerprint
from mlgate.data.table import rows_fingerprint
from mlgate.errors import ConfigError
from mlgate.metrics import greater_is_better, headline_metric
from mlgate.models import save_model
from mlgate.reports.figures import new_figure, to_figure
from mlgate.reports.model import Check, Report, Section, Timer
from mlgate.tasks import task_of_target
from mlgate.tracking import git_commit
from mlgate.train.preprocess import feature_set
from mlgate.train.runs import open_logger
from mlgate.train.training import (
    VALIDATION_FRACTION,
    make_candidates,
    pick_best,
    project_on_path,
    train_all,
    validation_split,
)
from mlgate.train.tuning import (
    TuneSetup,
    cross_validate,
    default_storage,
    open_study,
    run_trials,
    safe_url,
    sample_rows,
    search_space,
)
from mlgate.train.workers import split_trials, start_workers, stop_workers, wait_workers, workers_check
from mlgate.train.zoo import build_estimator

if TYPE_CHECKING:
    from mlgate.context import StageContext
    from mlgate.train.training import Trained

BEST_PARAMS_FILE = "best_params.yaml"
BEST_MODEL_FILE = "best_model.json"
MODEL_DIR = "model"


def run_train(ctx: StageContext) -> Report:
    """Train every candidate of ``config.models``, pick the best on validation, save it."""
    config = ctx.config
    report = Report(stage="train")
    with Timer(report):
        ds = ctx.dataset()
        target = ds.target
        task = config.task or task_of_target(ds.train[target], target)
        tuned = read_tuned(ctx)
        candidates = make_candidates(config.models, task, config.seed, tuned, config.root)
        if tuned and not any(c.tuned for c in candidates):
            report.add(Check(name="tuned_params_unused", passed=False, severity="warning",
                             observed=tuned["model_type"], expected=[c.model_type for c in candidates],
                             message=f"tuned params for {tuned['model_type']} ({tuned['source']}) "
                                     "not used: no candidate has that type"))
        features = feature_set(ds.train, target, config.data.id_columns)
        train_rows = ds.train.dropna(subset=[target])
        fit, val = validation_split(train_rows, target, task, config.seed)
        metric = headline_metric(task)

        ctx.progress("opening the MLflow store", 0.02)
        logger = open_logger(config, {"mlgate.stage": "train", "mlgate.task": task,
                                      "mlgate.pipeline_run": ctx.run_id})
        client = logger.client
        total = len(candidates)
        run_ids: list[str] = []

        def on_start(i: int, cand: Any) -> None:
            ctx.progress(f"training {cand.label} ({i + 1}/{total})", 0.05 + 0.8 * i / total)
            # Started before the fit, so the run's duration in MLflow is the training time.
            run_ids.append(logger.start(cand.label, {"mlgate.model_type": cand.model_type,
                                                     "mlgate.tuned": str(cand.tuned).lower()}))

        def on_done(i: int, result: Trained) -> None:
            cand = result.candidate
            run_id = result.run_id = run_ids[i]
            params = {"model_type": cand.model_type, **_estimator_params(cand.estimator)}
            metrics = {f"val_{k}": v for k, v in result.metrics.items()}
            metrics["fit_seconds"] = result.fit_seconds
            logger.log(run_id, params=params, metrics=metrics,
                       tags={"mlgate.error": result.error} if result.error else None)
            logger.end(run_id, ok=result.error is None)

        try:
            results = train_all(candidates, features, task, fit, val, target, on_done, on_start)
        except BaseException as exc:
            logger.abandon(exc)
            raise
        best = pick_best(results, task)
        if best is not None and metric not in best.metrics:
            metric = headline_metric(task, has_proba=False)
        greater = greater_is_better(metric)
        for result in results:
            report.add(_candidate_check(result, metric, best))
        if best is None:  # a failed gate like any other: its report.json says why
            errors = "; ".join(f"{r.candidate.label}: {r.error}" for r in results)
            report.add(Check(name="candidates_trained", passed=False, observed=0, expected=">= 1",
                             message=f"every candidate failed to train: {errors}"))
            report.key_figure = f"no model: {len(results)} candidate{'s' if len(results) > 1 else ''} failed"
            report.extras = {"task": task, "selection_metric": metric,
                             "candidates": [_candidate_row(r, None) for r in results]}
            return report

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
            # the serving contract: JSON null is accepted where training saw missing values
            "nullable": [c for c in features.columns if ds.train[c].isna().any()],
            "ignored_columns": features.ignored,
            "classes": _classes(best.pipeline) if task != "regression" else None,
            "metrics": best.metrics,
            "metrics_split": "validation",
            "selection_metric": metric,
            "trained_on": {"rows": len(fit), "validation_rows": len(val),
                           "validation_fraction": VALIDATION_FRACTION,
                           # what reproducibility needs to redraw the fit rows from the train table
                           "split_seed": config.seed, "table_rows": len(train_rows),
                           "fit_fingerprint": rows_fingerprint(fit, [*features.columns, target]),
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
        run_id = str(best.run_id)  # set by on_done for every trained candidate
        client.log_artifacts(run_id, str(model_dir), MODEL_DIR)
        client.set_tag(run_id, "mlgate.chosen", "true")

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
    """Run ``tune.n_trials`` trials of the Optuna study of ``config.tune``; write best_params.yaml."""
    import optuna

    config, tune = ctx.config, ctx.config.tune
    report = Report(stage="tune")
    with Timer(report):
        ds = ctx.dataset()
        frame = ds.train.dropna(subset=[ds.target])
        task = config.task or task_of_target(frame[ds.target], ds.target)
        frame = sample_rows(frame, ds.target, task, tune.max_rows, config.seed)
        setup = tune_setup(config, task)
        features = feature_set(frame, ds.target, config.data.id_columns)
        fingerprint = frame_fingerprint(ds.train)
        study = open_study(setup, config.seed)
        # this process runs the first share; the others start now on the study it just opened
        shares = split_trials(tune.n_trials, tune.workers)
        workers = start_workers(config, setup, shares[1:], ctx.out_dir)
        if study.user_attrs.get("data_fingerprint") in (None, fingerprint):
            study.set_user_attr("data_fingerprint", fingerprint)
        else:
            report.add(Check(name="same_data", passed=False, severity="warning",
                             message=f"study '{setup.study_name}' has trials on other training "
                                     "data; its best trial may come from them (use a new "
                                     "--study-name after the data changes)"))

        logger = open_logger(config, {"mlgate.stage": "tune", "mlgate.pipeline_run": ctx.run_id})
        parent = logger.start(f"tune:{setup.study_name}", {"mlgate.model_type": setup.model_type})
        logger.log(parent, params={"model_type": setup.model_type, "study_name": setup.study_name,
                                   "n_trials": tune.n_trials, "cv_folds": tune.cv_folds,
                                   "metric": setup.metric, **setup.base_params})

        def objective(trial: optuna.Trial) -> float:
            params = {name: dim.suggest(trial, name) for name, dim in setup.space.items()}
            estimator = build_estimator(setup.model_type, task, {**setup.base_params, **params},
                                        config.seed)
            try:
                return cross_validate(trial, setup, estimator, features, frame, ds.target,
                                      tune.cv_folds, config.seed)
            except (ValueError, ArithmeticError) as exc:  # a combination the estimator rejects
                # cut: Optuna 3.x keeps attributes in VARCHAR(2048) on PostgreSQL and MySQL
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:1000])
                return float("nan")  # recorded as a failed trial

        started, done = time.perf_counter(), [0]

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            done[0] += 1
            run = logger.start(f"trial-{trial.number}", {"optuna.state": trial.state.name,
                                                         "optuna.study": setup.study_name}, parent)
            metrics = {f"cv_{setup.metric}": trial.value} if trial.value is not None else {}
            metrics.update({f"fold{i}_{setup.metric}": v
                            for i, v in enumerate(trial.user_attrs.get("fold_scores", []))})
            logger.log(run, params=trial.params, metrics=metrics)
            logger.end(run, ok=trial.state != optuna.trial.TrialState.FAIL)
            fraction = done[0] / shares[0]
            if tune.timeout:
                fraction = max(fraction, (time.perf_counter() - started) / tune.timeout)
            best = _best_value(study)
            ctx.progress(f"trial {done[0]}/{shares[0]}" + (f" (+{len(workers)} workers)" if workers else "")
                         + (f" · best {setup.metric} {best:.4f}" if best is not None else ""),
                         min(fraction, 1.0))

        ctx.progress(f"tuning {setup.model_type}", 0.0)
        try:
            with project_on_path(config.root):
                run_trials(study, objective, shares[0], tune.timeout, config.seed, after_trial)
        except BaseException as exc:  # a failed or interrupted search must not leave workers running on the study
            stop_workers(workers)
            logger.abandon(exc)
            raise
        if workers:
            ctx.progress(f"waiting for {len(workers)} workers", None)
        results = wait_workers(workers)
        report.add(_tune_summary(report, study, setup, done[0] + sum(r.trials_run for r in results)))
        if results:
            report.add(workers_check(results, done[0]))
        best_file = ctx.out_dir / BEST_PARAMS_FILE
        if _best_value(study) is not None:
            doc = _best_params_doc(study, setup, config.seed, fingerprint)
            best_file.write_text(_yaml(doc), encoding="utf-8")
            logger.log(parent, metrics={f"best_cv_{setup.metric}": study.best_value},
                       tags={"mlgate.best_params": json.dumps(study.best_params, default=str)})
        logger.end(parent, ok=_best_value(study) is not None)
        report.extras.update({"study_name": setup.study_name, "rows": len(frame), "storage": safe_url(setup.storage),
                              "model_type": setup.model_type, "metric": setup.metric,
                              "search_space": {k: v.model_dump(exclude_none=True)
                                               for k, v in setup.space.items()},
                              "best_params_file": str(best_file) if best_file.exists() else None,
                              "mlflow_parent_run_id": parent, "trials": _trial_rows(study)})
        report.figures.append(_history_figure(study, setup))
    return report


def tune_setup(config: Any, task: str) -> Any:
    """The model type to tune (``tune.model``, else the first candidate) and its study."""
    tune = config.tune
    model_type = tune.model or (config.models[0].type if config.models else "gradient-boosting")
    spec = next((m for m in config.models if m.type == model_type), None)
    base = dict(spec.params) if spec else {}
    space = search_space(model_type, task, tune.search_space or None)
    fixed = {k: v for k, v in base.items() if k not in space}
    build_estimator(model_type, task, fixed, config.seed)  # bad fixed params fail before any trial
    metric = headline_metric(task)
    greater = greater_is_better(metric)
    return TuneSetup(model_type=model_type, base_params=fixed, space=space, task=task,
                     metric=metric, greater=greater,
                     study_name=tune.study_name or f"{config.project}-{model_type}",
                     storage=default_storage(config))


def _best_value(study: Any) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no completed trial yet
        return None


def _tune_summary(report: Report, study: Any, setup: Any, ran: int) -> Check:
    import optuna

    states = [t.state for t in study.trials]
    counts = {s.name.lower(): states.count(s) for s in optuna.trial.TrialState}
    best = _best_value(study)
    report.metrics = {"trials_total": len(states), "trials_this_call": ran,
                      "complete": counts["complete"], "pruned": counts["pruned"],
                      "failed": counts["fail"]}
    if best is None:
        return Check(name="trials_completed", passed=False, observed=0, expected=">= 1",
                     message=f"no trial of study '{setup.study_name}' completed "
                             f"({counts['pruned']} pruned, {counts['fail']} failed)")
    report.metrics[f"best_cv_{setup.metric}"] = round(best, 6)
    report.score = best if setup.greater else None
    report.key_figure = (f"{setup.model_type} cv {setup.metric} {best:.4f} · {len(states)} trials, "
                         f"{counts['pruned']} pruned")
    return Check(name="trials_completed", passed=True, observed=counts["complete"], expected=">= 1",
                 message=f"{counts['complete']} of {len(states)} trials completed; best cv "
                         f"{setup.metric} {best:.4f} with {study.best_params}")


def _best_params_doc(study: Any, setup: Any, seed: int, fingerprint: str) -> dict[str, Any]:
    return {"model_type": setup.model_type, "params": dict(study.best_params),
            "metric": setup.metric, "direction": "maximize" if setup.greater else "minimize",
            "best_value": float(study.best_value), "best_trial": study.best_trial.number,
            "study_name": setup.study_name, "storage": safe_url(setup.storage),
            "n_trials": len(study.trials), "seed": seed, "data_fingerprint": fingerprint,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds")}


def _trial_rows(study: Any) -> list[dict[str, Any]]:
    rows = []
    for t in study.trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                     "params": t.params, "seconds": round(seconds, 3) if seconds else None})
    return rows


def _history_figure(study: Any, setup: Any) -> Any:
    fig = new_figure()
    ax = fig.add_subplot()
    done = [(t.number, t.value) for t in study.trials if t.value is not None]
    pruned = [(t.number, t.intermediate_values[max(t.intermediate_values)])
              for t in study.trials if t.state.name == "PRUNED" and t.intermediate_values]
    if done:
        ax.plot(*zip(*done, strict=True), "o", label="complete")
        best, run = [], None
        for _, v in done:
            run = v if run is None else (max(run, v) if setup.greater else min(run, v))
            best.append(run)
        ax.step([n for n, _ in done], best, where="post", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned, strict=True), "x", color="grey", label="pruned (last fold mean)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"cv {setup.metric}")
    ax.legend(loc="best", fontsize="small")
    return to_figure(fig, "Optimization history",
                     f"{setup.model_type}, study '{setup.study_name}'")


def _yaml(doc: dict[str, Any]) -> str:
    import yaml

    header = "# Written by `mlgate tune`; `mlgate train` applies these params to the model type.\n"
    return header + yaml.safe_dump(doc, sort_keys=False)


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


def _candidate_row(result: Trained, best: Trained | None) -> dict[str, Any]:
    cand = result.candidate
    return {"label": cand.label, "model_type": cand.model_type, "tuned": cand.tuned,
            "chosen": result is best, "metrics": {k: round(v, 6) for k, v in result.metrics.items()},
            "fit_seconds": result.fit_seconds, "mlflow_run_id": result.run_id,
            "params": {k: _jsonable(v) for k, v in cand.params.items()}, "error": result.error}


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _rows_html(rows: list[dict[str, Any]], metric: str) -> str:
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
