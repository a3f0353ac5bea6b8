"""Plug-ins from outside the package: tests/fixtures/mlgate_plugin_example, installed with pip into a
folder on the path, adds a data check, a model check and a drift method through entry points (found by
importlib.metadata); each shows in --help, the config's error messages and the reports, with nothing
in src/ changed. A broken or clashing plug-in is an `Error:` naming the entry point and distribution."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from mlgate.cli import get_app
from mlgate.config import MonitorColumn, config_from_dict
from mlgate.data.checks import DATA_CHECKS
from mlgate.data.validator import build_checks
from mlgate.deploy.strategies import STRATEGIES
from mlgate.errors import ConfigError
from mlgate.modeltests.checks import MODEL_CHECKS
from mlgate.modeltests.runner import check_config
from mlgate.plugins import PluginError
from mlgate.stats import METHODS, compare_samples

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mlgate_plugin_example"
MLGATE = str(Path(sys.executable).with_name("mlgate"))
TABLES = (DATA_CHECKS, MODEL_CHECKS, METHODS, STRATEGIES)
BROKEN_PYPROJECT = """\
[build-system]
requires = []
build-backend = "_backend"
backend-path = ["."]

[project]
name = "mlgate-plugin-broken"
version = "0.1.0"

[project.entry-points."mlgate.data_checks"]
broken = "mlgate_plugin_broken.missing:Nothing"

[project.entry-points."mlgate.strategies"]
second_canary = "mlgate_plugin_broken:Canary"
"""
BROKEN_MODULE = '''from typing import ClassVar

from mlgate.deploy.strategies import Strategy


class Canary(Strategy):
    name: ClassVar[str] = "canary"
'''


def _pip_install(source: Path, target: Path) -> None:
    """pip's own install of a local package (offline; its in-tree backend needs nothing else)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True,
                   timeout=120)


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture package installed once per session into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns("__pycache__"))
    _pip_install(source, root / "site")
    return root / "site"


@pytest.fixture(scope="session")
def broken_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package whose data check does not import and whose strategy takes a built-in's name."""
    root = tmp_path_factory.mktemp("broken")
    source = root / "src"
    (source / "mlgate_plugin_broken").mkdir(parents=True)
    (source / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (source / "mlgate_plugin_broken" / "__init__.py").write_text(BROKEN_MODULE)
    shutil.copy(FIXTURE / "_backend.py", source / "_backend.py")
    _pip_install(source, root / "site")
    return root / "site"


def _forget_plugins() -> None:
    for table in TABLES:
        table._all = None
        table.origin.clear()


@pytest.fixture
def with_plugins(plugin_path: Path) -> Iterator[Path]:
    """The plug-in's folder on sys.path for this test only; the tables read the entry points anew."""
    sys.path.insert(0, str(plugin_path))
    _forget_plugins()
    try:
        yield plugin_path
    finally:
        sys.path.remove(str(plugin_path))
        _forget_plugins()
        for name in [m for m in sys.modules if m.startswith("mlgate_plugin_example")]:
            del sys.modules[name]


def test_the_tables_gain_the_plugins_after_the_built_ins(with_plugins: Path) -> None:
    assert list(DATA_CHECKS)[-1] == "no_negative" and list(DATA_CHECKS)[:-1] == list(DATA_CHECKS.builtin)
    assert list(MODEL_CHECKS)[-1] == "prediction_spread"
    assert list(METHODS)[-1] == "mean_shift" and METHODS["mean_shift"].per_column()
    assert "mlgate-plugin-example 0.1.0" in METHODS.origin["mean_shift"]
    cmp = compare_samples([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], "mean_shift")
    assert cmp.method == "mean_shift" and cmp.effect == pytest.approx(1 / np.std([0.0, 1.0, 2.0]))


def test_help_names_each_plugin(with_plugins: Path) -> None:
    for command, name in (("validate", "no_negative"), ("test", "prediction_spread"), ("monitor", "mean_shift")):
        result = CliRunner().invoke(get_app(), [command, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        assert name in result.output, command


def test_config_validation_knows_and_suggests_the_plugins(with_plugins: Path, tmp_path: Path) -> None:
    assert MonitorColumn(method="mean_shift").method == "mean_shift"
    with pytest.raises(ValidationError, match="did you mean 'mean_shift'"):
        MonitorColumn(method="mean_shif")
    ok = config_from_dict({"data": {"train": "t.csv"}, "gates": {"test": {"prediction_spread": {"min_distinct": 2}}}},
                          tmp_path)
    check_config(ok)
    typo = config_from_dict({"data": {"train": "t.csv"}, "gates": {"test": {"prediction_sprad": {}}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"gates -> test -> prediction_sprad: unknown model check "
                                          r"'prediction_sprad' \(did you mean 'prediction_spread'\?\)"):
        check_config(typo)
    bad = config_from_dict({"data": {"train": "t.csv"}, "gates": {"test": {"prediction_spread": {"min_distinct": 0}}}},
                           tmp_path)
    with pytest.raises(ConfigError, match="gates -> test -> prediction_spread -> min_distinct"):
        check_config(bad)
    with pytest.raises(ConfigError, match=r"unknown data check 'no_negativ' \(did you mean 'no_negative'\?\)"):
        build_checks({"no_negativ": {}})


def test_the_plugins_run_and_report_through_the_console_script(plugin_path: Path, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=300), "x2": rng.normal(size=300)})
    frame["target"] = (frame["x1"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    frame.iloc[:200].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[200:].to_csv(tmp_path / "test.csv", index=False)
    shifted = frame.iloc[200:].assign(x1=lambda f: f["x1"] + 2.0)
    shifted.to_csv(tmp_path / "current.csv", index=False)
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["target"])
    joblib.dump(model, tmp_path / "model.joblib")
    config = {"data": {"train": "train.csv", "test": "test.csv"}, "task": "binary",
              "gates": {"validate": {"checks": {"no_negative": {"columns": ["x1"], "severity": "warning"}}},
                        "test": {"prediction_spread": {"min_distinct": 2}}},
              "monitor": {"columns": {"x1": {"method": "mean_shift", "material": 0.5}}}}
    (tmp_path / "mlgate.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}

    def mlgate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MLGATE, *args], cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)

    validate = mlgate("validate", "--output", "v")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    rows = [c for c in _report(tmp_path / "v")["checks"] if c["name"] == "no_negative"]
    assert rows and not rows[0]["passed"] and rows[0]["severity"] == "warning"  # x1 holds negative values

    test = mlgate("test", "--model", "model.joblib", "--data", "test.csv", "--checks",
                  "prediction_spread", "--output", "t")
    assert test.returncode == 0, test.stdout + test.stderr
    report = _report(tmp_path / "t")
    assert [c["name"] for c in report["checks"]] == ["prediction_spread"] and report["checks"][0]["passed"]
    assert report["metrics"]["distinct_predictions"] == 2

    monitor = mlgate("monitor", "--reference", "train.csv", "--current", "current.csv", "--output", "m")
    assert monitor.returncode == 1, monitor.stdout + monitor.stderr  # x1 moved by two sd: drift
    assert '"mean_shift"' in (tmp_path / "m" / "report.json").read_text()



def test_a_broken_or_clashing_plugin_is_named_in_one_error(broken_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(broken_path), "COLUMNS": "300"}
    broken = subprocess.run([MLGATE, "validate", "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env=env)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    err = " ".join(broken.stderr.split())
    assert ("Error: plug-in 'broken' (entry point group mlgate.data_checks, distribution mlgate-plugin-broken "
            "0.1.0) failed to load (mlgate_plugin_broken.missing:Nothing): ModuleNotFoundError") in err, err
    clash = subprocess.run([MLGATE, "deploy", "--help"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120, env=env)
    assert clash.returncode == 2 and "Traceback" not in clash.stderr
    err = " ".join(clash.stderr.split())
    assert ("plug-in 'second_canary' (entry point group mlgate.strategies, distribution mlgate-plugin-broken "
            "0.1.0) adds the name 'canary' to mlgate.strategies, which mlgate itself already uses") in err, err


def test_a_plugin_that_is_not_a_subclass_is_refused() -> None:
    from importlib.metadata import EntryPoint

    ep = EntryPoint("odd", "builtins:dict", "mlgate.methods")
    with pytest.raises(PluginError, match=r"plug-in 'odd' .*\(builtins:dict\) is not a subclass of "
                                          r"mlgate.stats.methods.Method"):
        METHODS._load(ep)


def _report(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "report.json").read_text())  # type: ignore[no-any-return]


def test_docs_extending_shows_the_fixture_files_and_a_strategy_in_one_class() -> None:
    import re

    from mlgate.deploy.strategies import Strategy

    doc = (Path(__file__).parents[2] / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    for name in ("data_check.py", "model_check.py", "method.py"):
        assert (FIXTURE / "mlgate_plugin_example" / name).read_text() in blocks, name
    namespace: dict[str, object] = {}
    exec(compile(blocks[-1], "docs/extending.md", "exec"), namespace)
    gentle = namespace["GentleCanary"]
    assert isinstance(gentle, type) and issubclass(gentle, Strategy) and gentle.name == "gentle-canary"
    assert gentle().default_share(None) == 1.0  # type: ignore[arg-type]


def test_a_misspelt_check_in_mlgate_yaml_names_the_file_line_and_closest_name(tmp_path: Path) -> None:
    from mlgate.config import load_config
    from mlgate.data.validator import check_config as check_data

    (tmp_path / "mlgate.yaml").write_text("data:\n  train: train.csv\ngates:\n  validate:\n    checks:\n"
                                          "      out_of_rnage: {}\n  test:\n    fairnes: {}\n")
    config = load_config(tmp_path / "mlgate.yaml")
    with pytest.raises(ConfigError, match=r"^mlgate.yaml: gates -> validate -> checks -> out_of_rnage \(line 6\): "
                                          r"unknown data check 'out_of_rnage' \(did you mean 'out_of_range'\?\)"):
        check_data(config)
    with pytest.raises(ConfigError, match=r"gates -> test -> fairnes \(line 8\): unknown model check 'fairnes' "
                                          r"\(did you mean 'fairness'\?\)"):
        check_config(config)
