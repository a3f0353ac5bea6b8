"""Fixtures of the CI tests."""

from __future__ import annotations

import pytest
from ci_configs import CONFIGS, make_config

from mlgate.config import Config


@pytest.fixture(params=sorted(CONFIGS))
def any_config(request: pytest.FixtureRequest) -> Config:
    return make_config(request.param)
