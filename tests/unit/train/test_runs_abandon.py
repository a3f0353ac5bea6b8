"""An interrupted stage leaves no MLflow run RUNNING, not even one whose create_run the
interrupt cut short (the run exists in the store, its id never reached the logger)."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from mlgate.train.runs import PROCESS_TAG, RunLogger


def _logger(tmp_path: Path) -> RunLogger:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return RunLogger(client, client.create_experiment("x"), {"mlgate.stage": "train"})


def test_abandon_ends_the_runs_it_knows_and_the_one_an_interrupt_hid(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    known = logger.start("candidate-1")
    done = logger.start("candidate-0")
    logger.end(done)
    # what create_run leaves when the interrupt lands after the row is written: a run with this
    # logger's tags that ``open`` never heard of
    hidden = logger.client.create_run(logger.experiment_id, run_name="candidate-2",
                                      tags={**logger.tags, PROCESS_TAG: logger.process}).info.run_id
    other = logger.client.create_run(logger.experiment_id, run_name="someone else's",
                                     tags={PROCESS_TAG: "another-process"}).info.run_id

    logger.abandon(KeyboardInterrupt())

    status = {r: logger.client.get_run(r).info.status for r in (known, done, hidden, other)}
    assert status == {known: "KILLED", done: "FINISHED", hidden: "KILLED", other: "RUNNING"}


def test_abandon_after_an_error_marks_the_runs_failed(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    run = logger.start("candidate-1")
    logger.abandon(ValueError("bad"))
    assert logger.client.get_run(run).info.status == "FAILED"
    assert logger.client.get_run(run).data.tags[PROCESS_TAG] == logger.process
