"""Workers check a registered version's hash pin on the bytes they load, not only the parent."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from mlgate.errors import ModelLoadError
from mlgate.security.folders import model_file
from mlgate.serve.app import create_app
from mlgate.serve.model import ServedModel
from mlgate.serve.plan import ModelRef, initial_plan
from mlgate.serve.settings import ServeSettings

WRONG = "0" * 64


def _sha(folder: Path) -> str:
    return hashlib.sha256(model_file(folder).path.read_bytes()).hexdigest()


def test_a_model_loads_only_when_its_bytes_match_the_pin(lr_model_dir: Path) -> None:
    assert ServedModel.load(lr_model_dir, version="1", expected_sha256=_sha(lr_model_dir)).version == "1"
    with pytest.raises(ModelLoadError, match="mlgate.model_sha256"):
        ServedModel.load(lr_model_dir, version="1", expected_sha256=WRONG)


def test_a_worker_refuses_a_file_that_is_not_the_pinned_one(lr_model_dir: Path) -> None:
    settings = ServeSettings(model_path=str(lr_model_dir), model_source="models:/churn/1", model_version="1",
                             model_sha256=WRONG, access_log=False)
    with pytest.raises(ModelLoadError, match="does not match the hash pinned at registration"):
        create_app(settings)


def test_a_staged_version_is_checked_against_its_pin(lr_model_dir: Path) -> None:
    from starlette.testclient import TestClient

    from mlgate.serve.converge import commit_plan

    settings = ServeSettings(model_path=str(lr_model_dir), model_source=str(lr_model_dir), model_version="1",
                             access_log=False, rate_limit="off")
    with TestClient(create_app(settings)) as client:
        dep = client.app.state.server.deployment  # type: ignore[attr-defined]
        plan = dep.state.current().stage(ModelRef("2", str(lr_model_dir), "models:/churn/2", WRONG), "candidate")
        with pytest.raises(ModelLoadError, match="mlgate.model_sha256"):
            asyncio.run(commit_plan(dep.state, plan, dep.workers, timeout=30))
        assert dep.state.current().versions() == {"stable": "1"}


def test_the_pin_travels_in_the_plan_to_every_worker(lr_model_dir: Path) -> None:
    from mlgate.serve import loading
    from mlgate.serve.plan import Plan

    ref = ModelRef("3", str(lr_model_dir), "models:/churn/3")
    assert ref.pinned().sha256 is None  # nothing checked in this process: nothing to pass on
    loading._PINS[str(lr_model_dir.resolve())] = _sha(lr_model_dir)  # as resolve_model records it
    try:
        plan = initial_plan(ref).pinned()
    finally:
        loading._PINS.clear()
    assert Plan.from_dict(plan.to_dict()).stable.sha256 == _sha(lr_model_dir)
