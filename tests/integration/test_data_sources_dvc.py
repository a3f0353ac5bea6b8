"""DVC-tracked data: the churn pipeline in a fresh clone that holds only the .dvc files.

Real git, real DVC (the ``dvc`` extra) and a local directory remote, a remote type of DVC's own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _support.datasources import mlgate, quick_churn, run_folders, statuses

pytestmark = pytest.mark.integration

DVC = Path(sys.executable).with_name("dvc")
if not DVC.exists():
    pytest.skip("DVC is not installed (pip install -e '.[dev]' brings it)", allow_module_level=True)


def _sh(cwd: Path, *args: str) -> str:
    out = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{args}: {out.stdout[-1500:]}{out.stderr[-1500:]}"
    return out.stdout


def _git(cwd: Path, *args: str) -> str:
    return _sh(cwd, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args)


@pytest.fixture(scope="module")
def origin(_small_churn_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A git repository whose churn data is tracked by DVC and pushed to a local folder remote."""
    base = tmp_path_factory.mktemp("dvc-origin")
    repo, remote = base / "project", base / "dvc-remote"
    shutil.copytree(_small_churn_template, repo)
    quick_churn(repo)
    _git(repo, "init", "-q")
    _sh(repo, str(DVC), "init", "-q")
    _sh(repo, str(DVC), "remote", "add", "-d", "store", str(remote))
    _sh(repo, str(DVC), "add", "-q", "data/train.csv", "data/test.csv")
    _sh(repo, str(DVC), "push", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "churn data tracked by DVC")
    return repo, remote


def _clone(origin: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert (clone / "data" / "train.csv.dvc").exists() and not (clone / "data" / "train.csv").exists()
    return clone


def test_a_fresh_clone_runs_the_pipeline_pulls_once_and_reruns_pull_nothing(
        origin: tuple[Path, Path], tmp_path: Path, mlgate_bin: list[str]) -> None:
    repo, remote = origin
    clone = _clone(repo, tmp_path)
    moved = tmp_path / "remote-copy"  # this test moves its remote away: a copy of the module's
    shutil.copytree(remote, moved)
    _sh(clone, str(DVC), "remote", "modify", "--local", "store", "url", str(moved))
    first = mlgate(mlgate_bin, clone, "run")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert set(statuses(clone).values()) == {"ran"}
    pulls = [line for line in first.stderr.splitlines() if line.startswith("mlgate: dvc pull")]
    assert len(pulls) == 1 and "data/test.csv.dvc data/train.csv.dvc" in pulls[0], first.stderr
    assert (clone / "data" / "train.csv").exists()

    moved.rename(moved.with_name("moved-away"))  # from here on any pull would fail
    again = mlgate(mlgate_bin, clone, "run")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "dvc pull" not in again.stderr and set(statuses(clone).values()) == {"cached"}

    # without the data in the workspace, the keys come from the .dvc files' MD5s: still no pull
    for name in ("train.csv", "test.csv"):
        (clone / "data" / name).unlink()
    third = mlgate(mlgate_bin, clone, "run")
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert "dvc pull" not in third.stderr and set(statuses(clone).values()) == {"cached"}
    assert not (clone / "data" / "train.csv").exists()


def test_a_clone_whose_remote_is_not_configured_is_exit_2_before_anything_runs(
        origin: tuple[Path, Path], tmp_path: Path, mlgate_bin: list[str]) -> None:
    clone = _clone(origin[0], tmp_path)
    _sh(clone, str(DVC), "remote", "remove", "store")  # as if the project never committed one
    out = mlgate(mlgate_bin, clone, "run")
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in out.stderr
    assert "data/train.csv.dvc" in out.stderr and "dvc remote add -d" in out.stderr
    assert run_folders(clone) == []


def test_a_remote_without_the_data_is_exit_2_naming_the_push(
        origin: tuple[Path, Path], tmp_path: Path, mlgate_bin: list[str]) -> None:
    clone = _clone(origin[0], tmp_path)
    empty = tmp_path / "empty-remote"  # a remote that exists, but nobody pushed to it
    empty.mkdir()
    _sh(clone, str(DVC), "remote", "modify", "--local", "store", "url", str(empty))
    out = mlgate(mlgate_bin, clone, "validate")
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "dvc pull data/train.csv.dvc" in errors[0] and "Was it pushed?" in errors[0]
    assert not (clone / "data" / "train.csv").exists()


@pytest.mark.slow
def test_ci_shaped_jobs_pull_only_their_stage_inputs_and_share_keys_through_the_artifact(
        origin: tuple[Path, Path], tmp_path: Path, mlgate_bin: list[str]) -> None:
    """Each job a fresh clone with the previous job's .mlgate/ and `dvc pull` of its stage's inputs
    (mlgate.sources.ci_data_steps): the keys agree whether a table is present or only recorded."""
    from mlgate.config import load_config
    from mlgate.sources import ci_data_steps

    repo, _ = origin
    artifact: Path | None = None
    for job, stage in enumerate(("validate", "train", "test", "evaluate")):
        clone = tmp_path / f"job-{job}"
        _git(tmp_path, "clone", "-q", str(repo), str(clone))
        if artifact is not None:
            shutil.copytree(artifact, clone / ".mlgate")
        for line in ci_data_steps(load_config(clone / "mlgate.yaml"), stage):
            _sh(clone, str(DVC), *line.split()[1:])
        out = mlgate(mlgate_bin, clone, "run", "--until", stage)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        assert "mlgate: dvc pull" not in out.stderr  # the job's own step fetched all it reads
        seen = statuses(clone)
        assert seen[stage] == "ran" and all(seen[s] == "cached" for s in seen if s != stage), seen
        artifact = clone / ".mlgate"
    assert not (tmp_path / "job-3" / "data" / "train.csv").exists()  # evaluate's job pulled only the test table
