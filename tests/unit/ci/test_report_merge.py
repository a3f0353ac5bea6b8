"""mlgate report's merge: stage order, key plots, the MR summary's deltas and failed checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.errors import UsageError
from mlgate.reports import Check, Figure, Report, write_report
from mlgate.reports.merge import collect, resolve_source, summary_markdown, write_merged


def _write(folder: Path) -> Path:
    evaluate = Report(stage="evaluate", key_figure="roc_auc 0.84", metrics={"roc_auc": 0.84, "accuracy": 0.8})
    evaluate.add(Check(name="threshold:roc_auc", passed=True, message="roc_auc 0.840 (min 0.750)"))
    evaluate.figures = [Figure(title=f"plot {i}", svg=f"<svg id='p{i}'></svg>") for i in range(6)]
    test = Report(stage="test", key_figure="2 failed")
    for i in range(12):
        test.add(Check(name=f"edge_case_{i}", passed=False, column="age" if i == 0 else None,
                       message=f"case {i} | broke"))
    validate = Report(stage="validate", score=0.99, key_figure="quality 0.99")
    for report in (evaluate, test, validate):
        write_report(report, folder / report.stage)
    (folder / "candidates").mkdir()  # not a stage folder: skipped
    return folder


def test_stages_in_pipeline_order_with_up_to_four_plots(tmp_path: Path) -> None:
    merged = collect(_write(tmp_path / "reports"), "churn")
    assert [s.name for s in merged.stages] == ["validate", "test", "evaluate"]
    evaluate = merged.stages[-1]
    assert len(evaluate.figures) == 4 and "id='p0'" in evaluate.figures[0]
    assert not merged.passed
    paths = write_merged(merged, tmp_path / "out")
    html = paths["html"].read_text()
    assert "id='p3'" in html and "id='p4'" not in html
    assert '<a href="../reports/test/report.html">' in html
    assert (tmp_path / "out" / "junit.xml").read_text().count("<testcase") == 3


def test_summary_has_the_marker_verdicts_metrics_and_capped_failures(tmp_path: Path) -> None:
    merged = collect(_write(tmp_path / "reports"), "churn")
    text = summary_markdown(merged, "https://ci.example/report.html")
    assert text.startswith("<!-- mlgate-report:churn -->\n### ❌ mlgate churn: test failed (2 of 3 stages passed)")
    assert "| test | ❌ **failed** | 2 failed |" in text
    assert "(candidate on the test data; no production model to compare with)" in text
    assert "| roc_auc | 0.8400 |" in text
    assert "- `edge_case_0` [age]: case 0 \\| broke" in text
    assert "- `edge_case_9`" in text and "- `edge_case_10`" not in text and "and 2 more" in text
    assert "[full report (report.html)](https://ci.example/report.html)" in text


def test_deltas_against_production_come_from_compare(tmp_path: Path) -> None:
    compare = Report(stage="compare", key_figure="better")
    compare.extras = {"comparison": {"roc_auc": {"candidate": 0.85, "baseline": 0.8, "delta": 0.05,
                                                 "greater_is_better": True},
                                     "log_loss": {"candidate": 0.41, "baseline": 0.4, "delta": 0.01,
                                                  "greater_is_better": False}}}
    write_report(compare, tmp_path / "r" / "compare")
    text = summary_markdown(collect(tmp_path / "r", "churn"))
    assert "| roc_auc | 0.8500 | 0.8000 | +0.0500 🟢 |" in text
    assert "| log_loss | 0.4100 | 0.4000 | +0.0100 🔴 |" in text


def test_sources_and_their_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to report: no run in"):
        resolve_source(tmp_path, None)
    (tmp_path / "mlgate-reports").mkdir()
    assert resolve_source(tmp_path, None) == tmp_path / "mlgate-reports"
    runs = tmp_path / ".mlgate" / "runs"
    (runs / "20261201-000000-abcd").mkdir(parents=True)
    (runs / "LATEST").write_text("20261201-000000-abcd\n")
    assert resolve_source(tmp_path, None) == runs / "20261201-000000-abcd"
    assert resolve_source(tmp_path, "20261201-000000-abcd") == runs / "20261201-000000-abcd"
    with pytest.raises(UsageError, match="no run or report folder 'nope'"):
        resolve_source(tmp_path, "nope")
    with pytest.raises(UsageError, match="holds no stage reports"):
        collect(tmp_path / "mlgate-reports", "churn")
    (tmp_path / "mlgate-reports" / "x").mkdir()
    (tmp_path / "mlgate-reports" / "x" / "report.json").write_text("{not json")
    with pytest.raises(UsageError, match="is not a readable report"):
        collect(tmp_path / "mlgate-reports", "churn")
