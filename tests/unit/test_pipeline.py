from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.config import Config, load_config
from mlgate.context import StageContext
from mlgate.errors import DataError, UsageError
from mlgate.pipeline import STAGES, Pipeline, StageSpec, iter_runs, select_stages
from mlgate.reports import Check, Report

CALLS: list[str] = []


def _stage(name: str, passed: bool = True):
    def run(ctx: StageContext) -> Report:
        CALLS.append(name)
        (ctx.out_dir / "artifact.txt").write_text(name)
        for upstream in ctx.upstream.values():
            assert (upstream / "artifact.txt").exists()
        return Report(stage=name, checks=[Check(name=f"{name}_ok", passed=passed)],
                      key_figure=f"{name} figure")
    return run


def _table(fail: str | None = None) -> tuple[StageSpec, ...]:
    return (
        StageSpec("validate", _stage("validate", fail != "validate"), (), (("data",),)),
        StageSpec("train", _stage("train", fail != "train"), ("validate",), (("models",),)),
        StageSpec("register", _stage("register", fail != "register"), ("train",), (("registry",),),
                  reads_data=False),
    )


@pytest.fixture
def project(tmp_path: Path) -> Config:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,target\n1,0\n2,1\n")
    (tmp_path / "mlgate.yaml").write_text("data: {train: data/train.csv}\n")
    CALLS.clear()
    return load_config(tmp_path / "mlgate.yaml")


def test_second_run_skips_every_stage(project: Config) -> None:
    first = Pipeline(project, stages=_table()).run()
    assert [s.status for s in first.stages] == ["ran", "ran", "ran"]
    second = Pipeline(project, stages=_table()).run()
    assert [s.status for s in second.stages] == ["cached", "cached", "cached"]
    assert CALLS == ["validate", "train", "register"]
    assert second.exit_code == 0
    cached_dir = Path(second.run_dir) / "train"
    assert (cached_dir / "report.json").exists()
    assert json.loads((cached_dir / "cached.json").read_text())["outputs"] == first.stages[1].out_dir


def test_changed_data_reruns_data_stages_and_dependents(project: Config) -> None:
    Pipeline(project, stages=_table()).run()
    CALLS.clear()
    (project.root / "data" / "train.csv").write_text("a,target\n1,0\n3,1\n")
    record = Pipeline(project, stages=_table()).run()
    # register reads no data but depends on train, whose key changed
    assert CALLS == ["validate", "train", "register"]
    assert [s.status for s in record.stages] == ["ran", "ran", "ran"]


def test_changed_config_section_reruns_only_that_stage_and_after(project: Config) -> None:
    Pipeline(project, stages=_table()).run()
    CALLS.clear()
    (project.root / "mlgate.yaml").write_text("data: {train: data/train.csv}\nregistry: {alias: prod}\n")
    record = Pipeline(load_config(project.root / "mlgate.yaml"), stages=_table()).run()
    assert CALLS == ["register"]
    assert [s.status for s in record.stages] == ["cached", "cached", "ran"]


def test_failed_stage_blocks_downstream_and_is_not_cached(project: Config) -> None:
    record = Pipeline(project, stages=_table(fail="train")).run()
    assert [s.status for s in record.stages] == ["ran", "failed", "blocked"]
    assert record.exit_code == 1 and not record.passed
    CALLS.clear()
    again = Pipeline(project, stages=_table(fail="train")).run()
    assert CALLS == ["train"]
    assert [s.status for s in again.stages] == ["cached", "failed", "blocked"]


def test_user_error_in_a_stage_is_recorded_with_exit_2(project: Config) -> None:
    def broken(ctx: StageContext) -> Report:
        raise DataError("data/train.csv has no column 'target'")

    table = (StageSpec("validate", broken, (), (("data",),)),)
    record = Pipeline(project, stages=table).run()
    assert record.stages[0].status == "error"
    assert record.exit_code == 2
    assert "no column 'target'" in record.stages[0].message


def test_force_reruns_everything(project: Config) -> None:
    Pipeline(project, stages=_table()).run()
    CALLS.clear()
    Pipeline(project, stages=_table()).run(force=True)
    assert CALLS == ["validate", "train", "register"]


def test_only_and_until(project: Config) -> None:
    record = Pipeline(project, stages=_table()).run(until="train")
    assert [s.name for s in record.stages] == ["validate", "train"]
    CALLS.clear()
    record = Pipeline(project, stages=_table()).run(only="register")
    assert [s.name for s in record.stages] == ["register"] and CALLS == ["register"]
    with pytest.raises(UsageError, match="'deploy' is not a stage"):
        Pipeline(project, stages=_table()).run(only="deploy")


def test_run_record_and_merged_junit(project: Config) -> None:
    record = Pipeline(project, stages=_table(fail="register")).run()
    run_dir = Path(record.run_dir)
    body = json.loads((run_dir / "run.json").read_text())
    assert body["passed"] is False
    assert [(s["name"], s["status"]) for s in body["stages"]] == [
        ("validate", "ran"), ("train", "ran"), ("register", "failed")]
    junit = (run_dir / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 3 and 'failures="1"' in junit
    assert next(iter_runs(project.root / ".mlgate"))["run_id"] == record.run_id


def test_crashing_stage_still_writes_the_run_record(project: Config) -> None:
    def crash(ctx: StageContext) -> Report:
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError):
        Pipeline(project, stages=(StageSpec("validate", crash),)).run()
    assert next(iter_runs(project.root / ".mlgate"))["stages"] == []


def test_real_stage_table_is_ordered_and_tune_is_optional(project: Config) -> None:
    names = [s.name for s in STAGES]
    for spec in STAGES:
        assert all(names.index(n) < names.index(spec.name) for n in spec.needs)
    assert "tune" not in [s.name for s in select_stages(project)]
    assert [s.name for s in select_stages(project, until="tune")] == ["validate"]


def test_moved_project_keeps_its_cache(project: Config, tmp_path: Path) -> None:
    import shutil

    Pipeline(project, stages=_table()).run()
    moved = tmp_path / "elsewhere"
    shutil.copytree(project.root, moved, symlinks=True)
    CALLS.clear()
    record = Pipeline(load_config(moved / "mlgate.yaml"), stages=_table()).run()
    assert CALLS == [] and {s.status for s in record.stages} == {"cached"}


def test_noop_replay_matches_the_cache_and_stops_at_any_change(project: Config) -> None:
    from mlgate.runs import RunStore

    store = RunStore(project.root)
    config_file = project.root / "mlgate.yaml"
    assert store.replay_if_unchanged(config_file) is None  # nothing ran yet
    Pipeline(project, stages=_table()).run()
    replay = store.replay_if_unchanged(config_file)
    assert replay is not None and [s.status for s in replay.stages] == ["cached"] * 3
    assert (Path(replay.run_dir) / "run.json").exists()

    (project.root / "data" / "train.csv").write_text("a,target\n1,0\n5,1\n")
    assert store.replay_if_unchanged(config_file) is None

    Pipeline(project, stages=_table()).run()
    assert store.replay_if_unchanged(config_file) is not None
    config_file.write_text("data: {train: data/train.csv}\nseed: 1\n")
    assert store.replay_if_unchanged(config_file) is None


def test_a_stamp_with_monitor_inputs_is_not_replayed_blindly(project: Config) -> None:
    from mlgate.runs import RunStore

    store = RunStore(project.root)
    Pipeline(project, stages=_table()).run()
    state = store.read_state()
    state["noop"]["markers"].append({"monitor": {"current": [["batch.csv", 10, 1]]}})
    store.write_state(state)  # as a complete run with monitor enabled leaves it (a KeyError before)
    assert store.replay_if_unchanged(project.root / "mlgate.yaml") is None


def test_partial_run_removes_the_noop_stamp(project: Config) -> None:
    from mlgate.runs import RunStore

    Pipeline(project, stages=_table()).run()
    Pipeline(project, stages=_table()).run(only="train", force=True)
    assert RunStore(project.root).replay_if_unchanged(project.root / "mlgate.yaml") is None


def test_run_index_links_every_stage_report(project: Config) -> None:
    record = Pipeline(project, stages=_table(fail="train")).run()
    index = (Path(record.run_dir) / "index.html").read_text()
    assert "failed" in index
    assert 'href="validate/report.html"' in index and 'href="train/report.html"' in index
    assert 'href="register/report.html"' not in index  # blocked: it wrote no report


def test_missing_data_file_names_the_config_key(project: Config) -> None:
    (project.root / "data" / "train.csv").unlink()
    with pytest.raises(DataError, match=r"data.train in mlgate.yaml is 'data/train.csv', but .* does not exist"):
        Pipeline(project, stages=_table()).run()


# ---- the real stage table: each stage's key holds exactly what it reads -------------------


def _real_table() -> tuple[StageSpec, ...]:
    from dataclasses import replace

    return tuple(replace(spec, entry=_stage(spec.name)) for spec in STAGES)


@pytest.fixture
def two_tables(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,target\n1,0\n2,1\n")
    (tmp_path / "data" / "test.csv").write_text("a,target\n3,0\n4,1\n")
    (tmp_path / "mlgate.yaml").write_text(
        "data: {train: data/train.csv, test: data/test.csv}\ntune: {enabled: true}\n")
    CALLS.clear()
    return tmp_path / "mlgate.yaml"


def _rerun(config_file: Path) -> list[str]:
    Pipeline(load_config(config_file), stages=_real_table()).run()
    CALLS.clear()
    return CALLS


def test_a_test_table_change_reruns_only_the_stages_that_read_it(two_tables: Path) -> None:
    calls = _rerun(two_tables)
    (two_tables.parent / "data" / "test.csv").write_text("a,target\n3,1\n4,0\n")
    Pipeline(load_config(two_tables), stages=_real_table()).run()
    assert calls == ["validate", "test", "evaluate", "compare", "register"]  # not tune, not train


def test_a_train_table_change_reruns_tune_train_and_what_reads_the_model(two_tables: Path) -> None:
    calls = _rerun(two_tables)
    (two_tables.parent / "data" / "train.csv").write_text("a,target\n1,1\n2,0\n")
    Pipeline(load_config(two_tables), stages=_real_table()).run()
    assert calls == ["validate", "tune", "train", "test", "evaluate", "compare", "register"]


@pytest.mark.parametrize(("section", "expected"), [
    ("gates: {evaluate: {confidence: 0.9}}", ["evaluate", "register"]),
    ("gates: {test: {threads: 2}}", ["test", "register"]),
    ("gates: {validate: {min_quality_score: 0.8}}", ["validate", "register"]),
    ("models: [random-forest]", ["tune", "train", "test", "evaluate", "compare", "register"]),
    ("data: {train: data/train.csv, test: data/test.csv, protected: [a]}",
     ["validate", "test", "evaluate", "register"]),
], ids=["gates.evaluate", "gates.test", "gates.validate", "models", "data.protected"])
def test_a_change_in_one_config_section_reruns_only_its_readers(two_tables: Path, section: str,
                                                                 expected: list[str]) -> None:
    calls = _rerun(two_tables)
    text = two_tables.read_text()
    if section.startswith("data:"):
        text = text.replace("data: {train: data/train.csv, test: data/test.csv}", section)
    else:
        text += section + "\n"
    two_tables.write_text(text)
    Pipeline(load_config(two_tables), stages=_real_table()).run()
    assert calls == expected


def test_one_file_split_in_two_is_an_input_of_every_data_stage(tmp_path: Path) -> None:
    (tmp_path / "all.csv").write_text("a,target\n1,0\n2,1\n")
    (tmp_path / "mlgate.yaml").write_text("data: {path: all.csv}\n")
    CALLS.clear()
    calls = _rerun(tmp_path / "mlgate.yaml")
    (tmp_path / "all.csv").write_text("a,target\n1,0\n3,1\n")
    Pipeline(load_config(tmp_path / "mlgate.yaml"), stages=_real_table()).run()
    assert calls == ["validate", "train", "test", "evaluate", "compare", "register"]


def test_a_stage_added_after_the_run_is_in_its_index_and_merged_junit(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from mlgate.reports import Check, Report, write_report
    from mlgate.runs import RunStore, StageRecord, add_stage

    store = RunStore(tmp_path)
    record = store.new_run()
    run_dir = Path(record.run_dir)
    write_report(Report(stage="register", checks=[Check(name="registered", passed=True)]), run_dir / "register")
    record.stages.append(StageRecord("register", "ran", True, out_dir=str(run_dir / "register")))
    store.finish(record, {})
    smoke = Report(stage="smoke", checks=[Check(name="health", passed=True), Check(name="predict", passed=False)])
    write_report(smoke, run_dir / "smoke")
    add_stage(record, StageRecord("smoke", "failed", False, out_dir=str(run_dir / "smoke"), key_figure="p95 3 ms"))
    index = (run_dir / "index.html").read_text()
    assert '<a href="smoke/report.html">report</a>' in index and "p95 3 ms" in index
    assert "mlgate run " + record.run_id + ": failed" in index
    root = ET.parse(run_dir / "junit.xml").getroot()
    assert [s.get("name") for s in root] == ["mlgate.register", "mlgate.smoke"]
    assert root.get("failures") == "1"
    assert [s["name"] for s in json.loads((run_dir / "run.json").read_text())["stages"]] == ["register", "smoke"]


def test_a_run_stopped_on_bad_config_or_input_does_not_become_latest(tmp_path: Path) -> None:
    from mlgate.runs import RunStore, StageRecord

    store = RunStore(tmp_path)
    good = store.new_run()
    good.stages.append(StageRecord("validate", "ran", True))
    store.finish(good, {})
    bad = store.new_run()
    bad.stages.append(StageRecord("evaluate", "error", False, message="gates -> evaluate: bad"))
    store.finish(bad, {})
    runs = tmp_path / ".mlgate" / "runs"
    assert (runs / "LATEST").read_text().strip() == good.run_id
    assert (runs / "latest").resolve().name == good.run_id
    assert (runs / bad.run_id / "run.json").exists()  # recorded all the same, and listed by status
    assert [r["run_id"] for r in iter_runs(tmp_path / ".mlgate")][:2] == sorted([good.run_id, bad.run_id])[::-1]


def test_a_stage_whose_outside_state_moved_is_replayed_with_a_note(project: Config) -> None:
    """What a stage set outside the project (register: its alias) is read after it ran; when someone
    changes it, the replayed line says so; the stage is not run again (that would undo the change)."""
    from dataclasses import replace

    from mlgate._paths import file_stats
    from mlgate.runs import RunStore

    outside = project.root.parent / f"{project.root.name}-alias.txt"  # stands for the registry alias

    def sets(config: Config) -> dict[str, object]:
        return {"monitor": {"alias": file_stats(outside)}, "local": {"alias": str(outside)}}

    def register(ctx: StageContext) -> Report:
        CALLS.append("register")
        outside.write_text("v1")
        return Report(stage="register", checks=[Check(name="ok", passed=True)])

    table = (*_table()[:2], replace(_table()[2], entry=register, sets_external=sets))
    Pipeline(project, stages=table).run()
    assert [s.status for s in Pipeline(project, stages=table).run().stages] == ["cached"] * 3
    assert RunStore(project.root).replay_if_unchanged(project.root / "mlgate.yaml") is not None

    outside.write_text("v2, moved by hand")
    assert RunStore(project.root).replay_if_unchanged(project.root / "mlgate.yaml") is None  # the no-op replay too
    CALLS.clear()
    replayed = Pipeline(project, stages=table).run(only="register").stages
    assert [s.status for s in replayed] == ["cached"] and "set outside the project has changed" in replayed[0].message
    assert CALLS == []
    assert [s.status for s in Pipeline(project, stages=table).run(only="register", force=True).stages] == ["ran"]
    assert CALLS == ["register"]
    again = Pipeline(project, stages=table).run(only="register").stages
    assert [s.status for s in again] == ["cached"] and again[0].message.startswith("unchanged since"), again[0].message
