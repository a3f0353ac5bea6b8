"""Command-line overrides of the config for `mlgate train` and `mlgate tune`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import ConfigError
from mlgate.train.standalone import override, read_params_file

BASE = {"project": "p", "data": {"train": "d.csv", "target": "y", "id_columns": ["id"]},
        "models": [{"type": "random-forest", "params": {"max_depth": 4}},
                   {"type": "gradient-boosting", "name": "gb"}]}


def _config(tmp_path: Path):
    return config_from_dict(BASE, tmp_path)


def test_model_types_replace_the_matrix_keeping_configured_params(tmp_path: Path) -> None:
    config = override(_config(tmp_path), model_types=["random-forest", "neural-network"])
    assert [(m.type, m.params) for m in config.models] == [("random-forest", {"max_depth": 4}),
                                                           ("neural-network", {})]
    assert config.root == tmp_path and config.data.id_columns == ["id"]


def test_flat_params_go_to_every_model_and_named_ones_to_theirs(tmp_path: Path) -> None:
    flat = override(_config(tmp_path), params={"random_state": 1})
    assert all(m.params.get("random_state") == 1 for m in flat.models)
    named = override(_config(tmp_path), params={"gb": {"max_iter": 9}, "random-forest": {"max_depth": 2}})
    assert [m.params for m in named.models] == [{"max_depth": 2}, {"max_iter": 9}]


def test_params_for_a_model_that_is_not_a_candidate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--params names 'neural-network', which is not a candidate"):
        override(_config(tmp_path), params={"gb": {"max_iter": 9}, "neural-network": {"alpha": 1.0}})


def test_data_flag_replaces_the_source(tmp_path: Path) -> None:
    config = override(_config(tmp_path), data=tmp_path / "other.csv")
    assert config.data.train == str((tmp_path / "other.csv").resolve()) and config.data.test is None


def test_tune_flags_override_the_section(tmp_path: Path) -> None:
    config = override(_config(tmp_path), tune={"n_trials": 3, "storage": None, "enabled": True})
    assert (config.tune.n_trials, config.tune.enabled, config.tune.storage) == (3, True, None)


def test_unknown_model_type_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model type 'forest'"):
        override(_config(tmp_path), model_types=["forest"])


def test_params_file_must_be_a_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        read_params_file(bad)
    with pytest.raises(ConfigError, match="cannot read --params file"):
        read_params_file(tmp_path / "missing.yaml")
