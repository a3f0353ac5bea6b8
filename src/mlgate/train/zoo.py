"""The model zoo: one small class per model type, with a stable name used in mlgate.yaml.

A model type knows its estimator class for each task, the defaults mlgate sets (seed,
threads), the hyper-parameters it accepts and a default Optuna search space. Adding a type
means adding a class and a table entry in ``MODEL_TYPES``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import TYPE_CHECKING, Any, ClassVar

from mlgate.errors import ConfigError, MissingDependency
from mlgate.tasks import TASKS

if TYPE_CHECKING:
    from mlgate.config import Config

class ModelType:
    """A model type of the zoo: builds a configured, unfitted estimator for a task."""

    name: ClassVar[str]
    summary: ClassVar[str]
    package: ClassVar[str | None] = None  # optional dependency (an extra of mlgate)
    tasks: ClassVar[tuple[str, ...]] = TASKS
    # where the estimators are: module, classifier class and regressor class names
    module: ClassVar[str] = ""
    classifier: ClassVar[str] = ""
    regressor: ClassVar[str] = ""

    def estimator_class(self, task: str) -> type:
        """The estimator class for ``task`` (a classifier or a regressor)."""
        module = _optional(self.package, self.name) if self.package else importlib.import_module(self.module)
        return getattr(module, self.regressor if task == "regression" else self.classifier)  # type: ignore[no-any-return]

    def defaults(self, task: str, seed: int) -> dict[str, Any]:
        """Parameters mlgate sets unless the user gives them (seed, threads, iterations)."""
        return {"random_state": seed}

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        """The default Optuna search space: ``{param: {type, low, high, log} | {choices}}``."""
        return {}

    def coerce(self, params: dict[str, Any]) -> dict[str, Any]:
        """Turn YAML/Optuna values into what the estimator wants (lists to tuples, ...)."""
        return params

    def accepted(self, task: str) -> list[str]:
        """The hyper-parameter names the estimator accepts."""
        return sorted(_param_names(self.estimator_class(task)))

    def build(self, task: str, params: dict[str, Any], seed: int, label: str | None = None) -> Any:
        """A configured estimator; unknown or invalid hyper-parameters are ConfigErrors."""
        self._check_task(task, label)
        cls = self.estimator_class(task)
        params = self.coerce(dict(params))
        check_param_names(label or self.name, cls.__name__, params, self.accepted(task))
        accepted = set(self.accepted(task))
        merged = {k: v for k, v in self.defaults(task, seed).items() if k in accepted}
        merged.update(params)
        try:
            estimator = cls(**merged)
        except TypeError as exc:
            raise ConfigError(f"model '{label or self.name}' ({cls.__name__}): {exc}") from exc
        validate_values(estimator, label or self.name)
        return estimator

    def _check_task(self, task: str, label: str | None) -> None:
        if task not in self.tasks:
            raise ConfigError(f"model '{label or self.name}': type '{self.name}' cannot do "
                              f"{task} (it does {', '.join(self.tasks)}); pick another type")


class LogisticRegressionType(ModelType):
    name = "logistic-regression"
    summary = "scikit-learn LogisticRegression (classification only)"
    tasks = ("binary", "multiclass")
    module, classifier = "sklearn.linear_model", "LogisticRegression"

    def defaults(self, task: str, seed: int) -> dict[str, Any]:
        return {"random_state": seed, "max_iter": 1000}

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"C": {"type": "float", "low": 1e-3, "high": 100.0, "log": True}}


class LinearRegressionType(ModelType):
    name = "linear-regression"
    summary = "scikit-learn Ridge (regression only)"
    tasks = ("regression",)
    module, regressor = "sklearn.linear_model", "Ridge"

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"alpha": {"type": "float", "low": 1e-4, "high": 100.0, "log": True}}


class RandomForestType(ModelType):
    name = "random-forest"
    summary = "scikit-learn RandomForestClassifier / RandomForestRegressor"
    module, classifier, regressor = "sklearn.ensemble", "RandomForestClassifier", "RandomForestRegressor"

    def defaults(self, task: str, seed: int) -> dict[str, Any]:
        return {"random_state": seed, "n_jobs": -1}

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"n_estimators": {"type": "int", "low": 50, "high": 300, "log": True},
                "max_depth": {"type": "int", "low": 3, "high": 20},
                "min_samples_leaf": {"type": "int", "low": 1, "high": 30, "log": True},
                "max_features": {"choices": ["sqrt", 0.5, 1.0]}}


class GradientBoostingType(ModelType):
    name = "gradient-boosting"
    summary = "scikit-learn HistGradientBoostingClassifier / HistGradientBoostingRegressor"
    module = "sklearn.ensemble"
    classifier, regressor = "HistGradientBoostingClassifier", "HistGradientBoostingRegressor"

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"learning_rate": {"type": "float", "low": 0.03, "high": 0.3, "log": True},
                "max_iter": {"type": "int", "low": 50, "high": 300, "log": True},
                "max_leaf_nodes": {"type": "int", "low": 8, "high": 48, "log": True},
                "min_samples_leaf": {"type": "int", "low": 5, "high": 100, "log": True},
                "l2_regularization": {"type": "float", "low": 1e-6, "high": 1.0, "log": True}}


class NeuralNetworkType(ModelType):
    name = "neural-network"
    summary = "scikit-learn MLPClassifier / MLPRegressor with early stopping"
    module, classifier, regressor = "sklearn.neural_network", "MLPClassifier", "MLPRegressor"

    def defaults(self, task: str, seed: int) -> dict[str, Any]:
        return {"random_state": seed, "max_iter": 300, "early_stopping": True,
                "hidden_layer_sizes": (64, 32)}

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"hidden_layer_sizes": {"choices": ["32", "64", "64-32", "128-64"]},
                "alpha": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
                "learning_rate_init": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}

    def coerce(self, params: dict[str, Any]) -> dict[str, Any]:
        # Optuna choices must be scalars, so layer sizes travel as "64-32".
        sizes = params.get("hidden_layer_sizes")
        if isinstance(sizes, str):
            try:
                params["hidden_layer_sizes"] = tuple(int(s) for s in sizes.replace(",", "-").split("-"))
            except ValueError as exc:
                raise ConfigError(f"neural-network: hidden_layer_sizes {sizes!r} must be sizes "
                                  "like [64, 32] or '64-32'") from exc
        elif isinstance(sizes, list):
            params["hidden_layer_sizes"] = tuple(sizes)
        elif isinstance(sizes, int):
            params["hidden_layer_sizes"] = (sizes,)
        return params


def _boosting_space(**own: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The search ranges xgboost and lightgbm share, plus their trees' own knobs (fresh dicts each call)."""
    return {"learning_rate": {"type": "float", "low": 0.02, "high": 0.3, "log": True},
            "n_estimators": {"type": "int", "low": 50, "high": 400, "log": True}, **own}


class XGBoostType(ModelType):
    name = "xgboost"
    summary = "xgboost XGBClassifier / XGBRegressor (pip install 'mlgate[xgboost]')"
    package = "xgboost"
    classifier, regressor = "XGBClassifier", "XGBRegressor"

    def defaults(self, task: str, seed: int) -> dict[str, Any]:
        # One thread: OpenMP spin-waits collapse on busy (CI) cores; set n_jobs to use more.
        return {"random_state": seed, "n_jobs": 1, "n_estimators": 200, "tree_method": "hist"}

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return _boosting_space(max_depth={"type": "int", "low": 2, "high": 10},
                               subsample={"type": "float", "low": 0.5, "high": 1.0},
                               reg_lambda={"type": "float", "low": 1e-3, "high": 10.0, "log": True})


class LightGBMType(ModelType):
    name = "lightgbm"
    summary = "lightgbm LGBMClassifier / LGBMRegressor (pip install 'mlgate[lightgbm]')"
    package = "lightgbm"
    classifier, regressor = "LGBMClassifier", "LGBMRegressor"

    def defaults(self, task: str, seed: int) -> dict[str, Any]:
        return {"random_state": seed, "n_jobs": 1, "verbose": -1}  # one thread, as xgboost

    def search_space(self, task: str) -> dict[str, dict[str, Any]]:
        return _boosting_space(num_leaves={"type": "int", "low": 8, "high": 128, "log": True},
                               min_child_samples={"type": "int", "low": 5, "high": 100, "log": True})

    def accepted(self, task: str) -> list[str]:
        # LightGBM's sklearn API takes its native parameters as **kwargs too.
        return sorted({*_param_names(self.estimator_class(task)), "verbose", "num_leaves",
                       "min_child_samples", "subsample", "colsample_bytree"})


class CustomType(ModelType):
    """``params: {factory: "module:function", ...}``: the function returns an estimator.

    The factory is called with ``task=`` when it takes that argument; the other params are
    set on the returned estimator with ``set_params`` (so they are checked by name).
    """

    name = "custom"
    summary = "your own estimator: params {factory: 'module:function', ...}"

    def build(self, task: str, params: dict[str, Any], seed: int, label: str | None = None) -> Any:
        label = label or self.name
        params = dict(params)
        factory = _import_factory(params.pop("factory", None), label)
        kwargs = {"task": task} if "task" in _signature_params(factory) else {}
        try:
            estimator = factory(**kwargs)
        except Exception as exc:  # user code may raise anything
            raise ConfigError(f"model '{label}': factory {factory.__module__}:{factory.__name__} "
                              f"raised {type(exc).__name__}: {exc}") from exc
        if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
            raise ConfigError(f"model '{label}': the factory returned a {type(estimator).__name__}, "
                              "which has no fit()/predict()")
        accepted = sorted(estimator.get_params(deep=False)) if hasattr(estimator, "get_params") else []
        check_param_names(label, type(estimator).__name__, params, accepted)
        if "random_state" in accepted and "random_state" not in params:
            params["random_state"] = seed
        if params:
            estimator.set_params(**params)
        validate_values(estimator, label)
        return estimator

    def accepted(self, task: str) -> list[str]:
        return ["factory"]


MODEL_TYPES: dict[str, ModelType] = {t.name: t for t in (
    LogisticRegressionType(), LinearRegressionType(), RandomForestType(), GradientBoostingType(),
    NeuralNetworkType(), XGBoostType(), LightGBMType(), CustomType())}


def get_model_type(name: str, label: str | None = None) -> ModelType:
    """The zoo entry for ``name``; a ConfigError listing the types otherwise."""
    try:
        return MODEL_TYPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, MODEL_TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        where = f"model '{label}': " if label and label != name else ""
        raise ConfigError(f"{where}unknown model type '{name}'{hint}; types: "
                          f"{', '.join(MODEL_TYPES)}") from None


def check_models(config: Config) -> None:
    """Every candidate's type is in the zoo; a ConfigError naming ``models -> i -> type`` otherwise."""
    for i, spec in enumerate(config.models):
        try:
            get_model_type(spec.type)
        except ConfigError as exc:
            raise ConfigError(f"models -> {i} -> type: {exc}") from None


def build_estimator(model_type: str, task: str, params: dict[str, Any], seed: int,
                    label: str | None = None) -> Any:
    """A configured, unfitted estimator of a zoo type for a task."""
    return get_model_type(model_type, label).build(task, params, seed, label)


def check_param_names(label: str, estimator: str, params: dict[str, Any], accepted: list[str]) -> None:
    """Raise a ConfigError naming each hyper-parameter the estimator does not accept."""
    unknown = [p for p in params if p not in accepted]
    if not unknown:
        return
    bad = unknown[0]
    close = difflib.get_close_matches(bad, accepted, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"model '{label}' ({estimator}) has no hyper-parameter '{bad}'{hint}; "
                      f"accepted: {', '.join(accepted)}")


def validate_values(estimator: Any, label: str) -> None:
    """Check parameter values now, not minutes into training (scikit-learn's own checks)."""
    check = getattr(estimator, "_validate_params", None)
    # Third-party estimators inherit _validate_params without the constraints it reads.
    if check is None or not hasattr(type(estimator), "_parameter_constraints"):
        return
    try:
        check()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"model '{label}' ({type(estimator).__name__}): "
                          f"{str(exc).strip().splitlines()[0]}") from exc


def _param_names(cls: type) -> set[str]:
    getter = getattr(cls, "_get_param_names", None)
    if getter is not None:
        return set(getter())
    return set(_signature_params(cls)) - {"self"}


def _signature_params(func: Any) -> list[str]:
    try:
        return list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return []


def _optional(package: str, model_type: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependency(package, package, f"model type '{model_type}'") from exc


def _import_factory(ref: Any, label: str) -> Any:
    if not isinstance(ref, str) or ":" not in ref:
        raise ConfigError(f"model '{label}' (custom) needs params: {{factory: \"module:function\"}} "
                          f"naming a function that returns an estimator (got {ref!r})")
    module_name, _, func_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model '{label}': cannot import module '{module_name}' of factory "
                          f"{ref!r}: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(f"model '{label}': module '{module_name}' has no function '{func_name}' "
                          f"(factory {ref!r})")
    return func
