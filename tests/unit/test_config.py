from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import Config, config_from_dict, load_config
from mlgate.errors import ConfigError
from mlgate.examples.churn import CONFIG_TEMPLATE
from mlgate.project import TEMPLATE


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlgate.yaml"
    path.write_text(text)
    return path


def test_bundled_configs_are_valid() -> None:
    for template in (CONFIG_TEMPLATE, TEMPLATE):
        config = load_config(template)
        assert config.data.target == "target"


def test_misspelt_key_names_the_path_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "project: p\ndata:\n  train: a.csv\n  targt: y\n")
    with pytest.raises(ConfigError, match=r"data -> targt \(line 4\): unknown key"):
        load_config(path)


def test_bad_choice_lists_the_allowed_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "data: {train: a.csv}\ntask: binry\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "task (line 2)" in message and "'binary'" in message and "got 'binry'" in message


def test_several_problems_are_counted(tmp_path: Path) -> None:
    path = _write(tmp_path, "data: {train: a.csv}\ntask: x\ngates: {compare: {significance: 2}}\n")
    with pytest.raises(ConfigError, match=r"invalid \(2 problems\)"):
        load_config(path)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  train: [a.csv\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(path)


def test_missing_file_suggests_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="mlgate init"):
        load_config()


def test_data_needs_one_source() -> None:
    with pytest.raises(ConfigError, match="either 'path'"):
        config_from_dict({"data": {"path": "a.csv", "train": "b.csv"}}, Path("."))
    with pytest.raises(ConfigError, match="needs 'train'"):
        config_from_dict({"data": {"target": "y"}}, Path("."))


def test_models_accept_names_and_mappings(tmp_path: Path) -> None:
    config = config_from_dict({"data": {"train": "a.csv"},
                               "models": ["random-forest", {"type": "xgboost", "params": {"n": 1}}]},
                              tmp_path)
    assert [m.type for m in config.models] == ["random-forest", "xgboost"]
    assert config.models[1].params == {"n": 1}


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "data: {train: data/train.csv}\n"))
    assert config.resolve(config.data.train or "") == tmp_path / "data" / "train.csv"
    assert config.root == tmp_path


def test_section_is_json_for_cache_keys() -> None:
    config = Config.model_validate({"data": {"train": "a.csv"}})
    assert config.section("gates", "validate")["min_quality_score"] == 0.9
    assert config.section("nope") is None
