"""`ci.install` (what every job installs mlgate from) and the CI settings `mlgate ci` refuses."""

from __future__ import annotations

import pytest
import yaml
from ci_configs import make_config

from mlgate import __version__
from mlgate.ci import render
from mlgate.ci.checks import canary_window
from mlgate.config import CanaryConfig
from mlgate.deploy.install import parse_install
from mlgate.errors import ConfigError


@pytest.mark.parametrize(("given", "line"), [
    (None, f"pip install 'mlgate[security]=={__version__}'"),
    ("mlgate==1.2.0", "pip install 'mlgate[security]==1.2.0'"),
    ("mlgate[postgres]>=1.2,<2", "pip install 'mlgate[postgres,security]>=1.2,<2'"),
    ("mlgate @ git+https://gitlab.example.com/team/mlgate@v1.2.0",
     "pip install 'mlgate[security] @ git+https://gitlab.example.com/team/mlgate@v1.2.0'"),
    ("wheels/mlgate-1.2.0-py3-none-any.whl", "pip install 'wheels/mlgate-1.2.0-py3-none-any.whl[security]'"),
])
def test_install_forms_take_each_jobs_extras(given: str | None, line: str) -> None:
    assert parse_install(given).line({"security"}) == line


@pytest.mark.parametrize(("given", "match"), [
    ("mlgate[securty]==1.2.0", "ci -> install: .* names the extra 'securty', which mlgate does not have"),
    ("numpy==2.0", "installs 'numpy', not mlgate"),
    ("wheels/numpy-2.0-py3-none-any.whl", "not an mlgate wheel"),
    ("mlgate latest", "is not a pip requirement"),
])
def test_bad_install_names_the_key(given: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_install(given)


def test_every_job_uses_ci_install() -> None:
    config = make_config("example")
    config.ci.install = "mlgate @ git+https://gitlab.example.com/team/mlgate@v1.2.0"
    doc = yaml.safe_load(render("gitlab", config)[0])
    assert doc["default"]["before_script"] == ["pip install 'mlgate @ git+https://gitlab.example.com/team/mlgate@v1.2.0'"]
    assert doc["security-scan"]["before_script"] == [
        "pip install 'mlgate[security] @ git+https://gitlab.example.com/team/mlgate@v1.2.0'"]
    config.models[0].type = "xgboost"  # a model type with its own extra: every job installs it
    assert "pip install 'mlgate[xgboost] @ git+" in render("github", config)[0]


def test_environment_the_ci_deploys_to_must_be_defined() -> None:
    config = make_config("example")
    del config.environments["production"]
    with pytest.raises(ConfigError, match="environments: the CI's deploy jobs deploy to 'production'"):
        render("gitlab", config)


def test_canary_window_must_hold_the_minimum_samples_at_the_stated_rate() -> None:
    canary = CanaryConfig()  # steps 10, 25, 50, 100; 200 requests a lane; every 30 s; at most 3600 s
    # at 1 request/s: 2000 s at 10%, 800 s at 25%, 400 s at 50%, each rounded up to 30 s ticks: 3240 s
    assert canary_window(canary, 1.0) == pytest.approx(3240)
    with pytest.raises(ConfigError, match=r"deploy -> canary -> max_wait_s is 3600 s, but at "
                                          r"ci.canary_request_rate 0.5 requests/s the steps need about 6450 s"):
        canary_window(canary, 0.5)
    assert canary_window(canary, None) == 0.0  # no stated rate: nothing to check against
    with pytest.raises(ConfigError, match="interval_s is 120 s, longer than max_wait_s"):
        canary_window(CanaryConfig(interval_s=120, max_wait_s=60), None)
