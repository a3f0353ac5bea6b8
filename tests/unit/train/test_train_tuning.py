"""Search spaces and storage URLs of the tune stage."""

from __future__ import annotations

import pytest

from mlgate.errors import ConfigError
from mlgate.train.tuning import SearchParam, safe_url, search_space
from mlgate.train.zoo import MODEL_TYPES


@pytest.mark.parametrize("name", [n for n in MODEL_TYPES if n != "custom"])
def test_default_spaces_are_valid(name: str) -> None:
    mtype = MODEL_TYPES[name]
    for task in mtype.tasks:
        for spec in mtype.search_space(task).values():
            SearchParam.model_validate(spec)


def test_yaml_space_replaces_the_default_and_infers_types() -> None:
    space = search_space("random-forest", "binary", {"max_depth": {"type": "int", "low": 2, "high": 8},
                                                      "max_features": {"choices": ["sqrt", 0.5]}})
    assert set(space) == {"max_depth", "max_features"}
    assert space["max_features"].type == "categorical"


def test_unknown_parameter_in_space_names_it_and_lists_accepted() -> None:
    with pytest.raises(ConfigError, match=r"tune -> search_space.*'n_trees'.*n_estimators"):
        search_space("random-forest", "binary", {"n_trees": {"type": "int", "low": 1, "high": 5}})


@pytest.mark.parametrize(("spec", "msg"), [
    ({"type": "float", "low": 1.0, "high": 0.5}, "low < high"),
    ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log scale needs low > 0"),
    ({"type": "categorical"}, "non-empty 'choices'"),
    ({"choices": [[1, 2]]}, "choices must be"),
    ({"type": "int", "low": 1, "hi": 2}, "hi"),
])
def test_bad_dimension_names_the_key(spec: dict, msg: str) -> None:
    with pytest.raises(ConfigError, match=rf"tune -> search_space -> C\b.*{msg}"):
        search_space("logistic-regression", "binary", {"C": spec})


def test_safe_url_hides_the_password() -> None:
    assert safe_url("postgresql://bob:secret@db:5432/optuna") == "postgresql://bob:***@db:5432/optuna"
    assert safe_url("sqlite:///x.db") == "sqlite:///x.db"


def _study(storage: object = None) -> object:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, direction="maximize", study_name="s",
                               load_if_exists=True)


def _objective(trial: object) -> float:
    x = trial.suggest_float("x", -5, 5)
    return -(x - 1) ** 2


def test_trials_are_seeded_by_number_reproducible_and_resumable() -> None:
    from mlgate.train.tuning import run_trials

    seen: list[int] = []
    a, b = _study(), _study()
    assert run_trials(a, _objective, 5, None, 7, lambda s, t: seen.append(t.number)) == 5
    run_trials(b, _objective, 5, None, 7, lambda s, t: None)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert seen == [0, 1, 2, 3, 4]
    run_trials(a, _objective, 3, None, 7, lambda s, t: None)  # resume: new samples, not a replay
    xs = [t.params["x"] for t in a.trials]
    assert len(xs) == 8 and len(set(xs)) == 8


def test_pruned_and_failed_trials_are_recorded() -> None:
    import optuna

    from mlgate.train.tuning import run_trials

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_int("n", 0, 10)
        if trial.number == 0:
            raise optuna.TrialPruned()
        return float("nan") if trial.number == 1 else 1.0

    study = _study()
    run_trials(study, objective, 3, None, 0, lambda s, t: None)
    assert [t.state.name for t in study.trials] == ["PRUNED", "FAIL", "COMPLETE"]


def test_an_error_in_a_trial_marks_it_failed_and_propagates() -> None:
    from mlgate.train.tuning import run_trials

    def objective(trial: object) -> float:
        raise ConfigError("bad")

    study = _study()
    with pytest.raises(ConfigError):
        run_trials(study, objective, 3, None, 0, lambda s, t: None)
    assert [t.state.name for t in study.trials] == ["FAIL"]
