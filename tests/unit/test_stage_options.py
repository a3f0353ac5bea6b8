"""A command's own flags reach its stage as a frozen dataclass with its defaults written once, beside the stage.

``mlgate run`` calls every stage as ``run_<stage>(ctx)``: the options argument must stay optional,
and the defaults the pipeline gets are the dataclass's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
import typer

from mlgate.cli import get_app
from mlgate.data.stage import ValidateOptions, run_validate
from mlgate.deploy.options import DEFAULT_ENV
from mlgate.deploy.stage import DeployOptions, run_deploy
from mlgate.monitor.stage import MonitorOptions, run_monitor
from mlgate.pipeline import STAGES
from mlgate.registration import RegisterOptions, run_register

OPTIONS = {run_validate: ValidateOptions, run_monitor: MonitorOptions, run_register: RegisterOptions,
           run_deploy: DeployOptions}


@pytest.mark.parametrize("stage", list(OPTIONS), ids=lambda f: f.__name__)
def test_options_are_a_frozen_dataclass_and_an_optional_second_argument(stage: Any) -> None:
    kind = OPTIONS[stage]
    params = list(inspect.signature(stage).parameters.values())
    assert [p.name for p in params] == ["ctx", "options"] and params[1].default is None
    assert params[1].annotation == f"{kind.__name__} | None"
    with pytest.raises(dataclasses.FrozenInstanceError):
        kind().__setattr__(dataclasses.fields(kind)[0].name, None)


def test_every_pipeline_stage_runs_on_the_context_alone() -> None:
    for spec in STAGES:
        params = list(inspect.signature(spec.load()).parameters.values())
        assert params[0].name == "ctx" and all(p.default is not p.empty for p in params[1:]), spec.name


def test_deploy_env_default_is_written_once() -> None:
    command = typer.main.get_command(get_app()).commands["deploy"]
    env = next(p for p in command.params if p.name == "env")
    assert env.default == DEFAULT_ENV == DeployOptions().env == "staging"
