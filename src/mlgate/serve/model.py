"""The model as the server sees it: estimator, input schema, example row, and batch predict."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.errors import ModelLoadError
from mlgate.registry.uri import parse_model_uri
from mlgate.security.folders import signature_inputs
from mlgate.serve.fastpath import compile_fast_path
from mlgate.serve.loading import load_estimator
from mlgate.serve.schema import Feature, InputSchema, kind_of_dtype
from mlgate.tasks import task_of_model


@dataclass
class Predictions:
    """Outputs for a batch of rows: labels, plus class probabilities for classifiers."""

    labels: list[Any]
    probabilities: list[list[float]] | None = None


@dataclass
class ServedModel:
    """A loaded model with what the server needs to validate input and answer /model-info."""

    estimator: Any
    info: dict[str, Any]
    schema: InputSchema
    version: str
    source: str
    path: str
    example: dict[str, Any] = field(default_factory=dict)
    classes: list[Any] | None = None
    frame_input: bool = True
    _fast: Any = None

    @classmethod
    def load(cls, path: str | Path, *, version: str, source: str | None = None,
             expected_sha256: str | None = None) -> ServedModel:
        """Load a model folder or pickle without MLflow, infer its schema and probe nullability.

        ``expected_sha256``: the registered pin; the file's bytes must hash to it.
        """
        folder = Path(path)
        estimator, info = load_estimator(folder, expected_sha256)
        if not hasattr(estimator, "predict"):
            raise ModelLoadError(f"{folder} holds a {type(estimator).__name__}, which has no predict()")
        schema, frame_input = _schema(estimator, info, folder)
        classes = getattr(estimator, "classes_", None)
        model = cls(estimator=estimator, info=info, schema=schema, version=version,
                    source=source or str(folder), path=str(folder),
                    classes=[_plain(c) for c in classes] if classes is not None else None,
                    frame_input=frame_input)
        rows = _example_rows(folder, info, schema)
        model.schema = schema.with_nullable(model._nullable(rows[0] if rows else None))
        model.example = model._pick_example(rows)
        model._compile(rows)
        return model

    @property
    def task(self) -> str:
        return task_of_model(info=self.info, classes=self.classes) or "regression"

    def predict(self, columns: dict[str, np.ndarray]) -> Predictions:
        """Predict a batch given as validated column arrays (see ``InputSchema.columns``)."""
        fast = self._fast
        if fast is not None:
            try:
                return self._outputs(fast.final, fast(columns))  # type: ignore[attr-defined]
            except Exception:  # the verified fast path met an input it cannot take: use sklearn's
                pass
        return self._outputs(self.estimator, self._frame(columns))

    def _outputs(self, estimator: Any, X: Any) -> Predictions:
        if self.classes is not None and hasattr(estimator, "predict_proba"):
            proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
            if len(proba) == 1:  # one row: in Python, a third of the time of numpy's calls on it
                return self._one_row_outputs(proba[0].tolist())
            # argmax of the probabilities is what predict() returns for sklearn classifiers,
            # and it saves a second pass through the pipeline.
            labels = [self.classes[i] for i in proba.argmax(axis=1)]
            if not np.isfinite(proba).all():
                raise ValueError("the model returned non-finite probabilities")
            return Predictions(labels, proba.round(6).tolist())
        out = np.asarray(estimator.predict(X))
        labels = [_plain(v) for v in out.tolist()]
        if out.dtype.kind == "f" and not np.isfinite(out).all():
            raise ValueError("the model returned a non-finite prediction")
        return Predictions(labels)

    def _one_row_outputs(self, row: list[float]) -> Predictions:
        """``_outputs`` of one row's probabilities, the same values as the numpy path: the first
        highest class (argmax), and ``rint(p * 1e6) / 1e6`` (numpy's ``round(6)``)."""
        assert self.classes is not None
        if not math.isfinite(sum(row)):
            raise ValueError("the model returned non-finite probabilities")
        label = self.classes[row.index(max(row))]
        return Predictions([label], [[round(p * 1e6) / 1e6 for p in row]])

    @property
    def fast_path(self) -> bool:
        """True when predictions skip the per-request DataFrame (see ``serve.fastpath``)."""
        return self._fast is not None

    def _compile(self, rows: list[dict[str, Any]]) -> None:
        good = [r for r in rows if self._try(r)]
        if not good or not self.frame_input:
            return
        variants = [{**good[0], f.name: None} for f in self.schema.features if f.nullable]
        samples = [self.schema.columns([r], "sample", False, 1) for r in good[:3]]
        samples.append(self.schema.columns(good + variants, "sample", True, len(good) + len(variants)))
        proba = self.classes is not None and hasattr(self.estimator, "predict_proba")
        self._fast = compile_fast_path(self.estimator, self.schema.names, samples, proba)

    def _frame(self, columns: dict[str, np.ndarray]) -> Any:
        if not self.frame_input:
            return np.column_stack([columns[n] for n in self.schema.names])
        import pandas as pd

        names = self.schema.names
        if list(columns) != names:  # columns validated by another version's schema (a shadow's copy)
            columns = {n: columns[n] for n in names}
        return pd.DataFrame(columns, copy=False)

    @property
    def name(self) -> str:
        """The registered model's name when served from ``models:/NAME...``, else mlgate.json's, else the folder's."""
        registered = parse_model_uri(self.source or "")
        return registered.name if registered else str(self.info.get("name") or Path(self.path).name)

    def describe(self) -> dict[str, Any]:
        """The body of ``GET /model-info``."""
        info = self.info
        return {
            "name": self.name,
            "version": self.version,
            "model_type": info.get("model_type") or type(_final_step(self.estimator)).__name__,
            "task": self.task,
            "features": self.schema.list_names,  # the order of a list-form row's values
            **({"model_feature_order": self.schema.names} if self.schema.list_names != self.schema.names else {}),
            "feature_types": {f.name: f.kind for f in self.schema.features},
            "nullable": [f.name for f in self.schema.features if f.nullable],
            "classes": self.classes,
            "metrics": info.get("metrics", {}),
            "git_commit": info.get("git_commit"),
            "trained_at": info.get("trained_at"),
            "source": self.source,
            "input_example": self.example,
            "fast_path": self.fast_path,
        }

    # -- start-up probes ------------------------------------------------------------

    def _try(self, row: dict[str, Any]) -> bool:
        try:
            cols = self.schema.columns([row], "probe", False, 1)
            out = self.predict(cols)
            return all(_finite(v) for v in out.labels)
        except Exception:  # any failure means the model cannot take this input
            return False

    def _nullable(self, example: dict[str, Any] | None) -> set[str]:
        """Features that accept null: from ``mlgate.json`` ``nullable`` when given, else probed.

        The probe sets one numeric feature of a working example row to missing and keeps it
        nullable when the model still predicts (an imputer or native missing-value support);
        columns the MLflow signature marks optional are nullable too. String and boolean
        columns are nullable only when declared.
        """
        declared = self.info.get("nullable")
        if isinstance(declared, list):
            return {str(n) for n in declared}
        optional = {s["name"] for s in _signature_inputs(Path(self.path))
                    if s.get("required") is False and "name" in s}
        if example is None:
            return optional
        open_schema = self.schema.with_nullable(set(self.schema.names))
        strict, self.schema = self.schema, open_schema
        try:
            if not self._try(example):
                return optional
            # A string or boolean column taking None usually means "unknown category" (a
            # one-hot encoder ignoring unknowns), not "trained with missing values": only
            # numeric columns are probed.
            probed = {f.name for f in strict.features if f.kind in ("number", "integer")
                      and self._try({**example, f.name: None})}
            return probed | optional
        finally:
            self.schema = strict

    def _pick_example(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        for row in rows:
            if self._try(row):
                return row
        return {}


def _schema(estimator: Any, info: dict[str, Any], folder: Path) -> tuple[InputSchema, bool]:
    names = info.get("features")
    dtypes: dict[str, str] = dict(info.get("dtypes") or {})
    if not names or not dtypes:  # a .joblib registered by hand: features named, types in its signature
        signature = _signature_inputs(folder)
        names = names or [s["name"] for s in signature if "name" in s]
        dtypes = dtypes or {s["name"]: str(s.get("type", "")) for s in signature if "name" in s}
    frame_input = True
    if not names:
        fitted = getattr(estimator, "feature_names_in_", None)
        if fitted is not None:
            names = [str(n) for n in fitted]
        else:
            n = getattr(estimator, "n_features_in_", None)
            if n is None:
                raise ModelLoadError(f"{folder}: cannot tell which features the model takes; save it "
                                     "with mlgate.json 'features' or an MLflow signature")
            names, frame_input = [f"x{i}" for i in range(int(n))], False
    features = [Feature(str(n), kind_of_dtype(dtypes.get(str(n), "")) if dtypes else "any")
                for n in names]
    # A model fitted on a plain array warns on every call given a DataFrame: give it an array.
    frame_input = frame_input and hasattr(estimator, "feature_names_in_")
    return InputSchema(features), frame_input


def _signature_inputs(folder: Path) -> list[dict[str, Any]]:
    return signature_inputs(folder)


def _example_rows(folder: Path, info: dict[str, Any], schema: InputSchema) -> list[dict[str, Any]]:
    """Rows from the model's saved input example (MLflow's ``input_example.json``)."""
    rows: list[dict[str, Any]] = []
    file = folder / "input_example.json" if folder.is_dir() else None
    if file is not None and file.exists():
        try:
            ex = json.loads(file.read_text(encoding="utf-8"))
        except ValueError:
            ex = {}
        if isinstance(ex, dict) and isinstance(ex.get("data"), list):
            cols = ex.get("columns") or schema.names
            rows = [dict(zip(cols, r, strict=False)) for r in ex["data"] if isinstance(r, list)]
        elif isinstance(ex, list):
            rows = [r for r in ex if isinstance(r, dict)]
    if isinstance(info.get("input_example"), dict):
        rows.insert(0, info["input_example"])
    clean = []
    for row in rows:
        if set(schema.names) <= set(row):
            clean.append({n: _json_value(row[n]) for n in schema.names})
    # rows without missing values first: they make the best example for a client
    clean.sort(key=lambda r: sum(v is None for v in r.values()))
    if not clean:
        zero = {"number": 0.0, "integer": 0, "boolean": False, "string": "", "any": 0}
        clean = [{f.name: zero[f.kind] for f in schema.features}]
    return clean


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return _plain(value)


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python value, for JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _finite(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator
