from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from mlgate.reports import Check, Report, write_report
from mlgate.reports.figures import new_figure, to_figure
from mlgate.runs import merge_junit


def _report() -> Report:
    return Report(stage="validate", score=0.93, key_figure="quality 0.93", extras={"rows": 10}, checks=[
        Check(name="unseen_categories", column="grade", passed=False, observed=["Z"],
              expected=["A", "B"], message="'grade': 1 unseen category 'Z' in 212 rows"),
        Check(name="duplicate_rows", passed=False, severity="warning", message="3 duplicate rows"),
        Check(name="row_count", passed=True, message="10 rows (limit >= 1)"),
    ])


def test_verdict_counts_only_error_checks() -> None:
    report = _report()
    assert not report.passed
    assert [c.name for c in report.failures] == ["unseen_categories"]
    assert [c.name for c in report.warnings] == ["duplicate_rows"]
    report.checks[0].passed = True
    assert report.passed


def test_report_json_has_the_shared_shape(tmp_path: Path) -> None:
    paths = write_report(_report(), tmp_path)
    body = json.loads(paths["json"].read_text())
    assert list(body)[:3] == ["stage", "passed", "score"]
    for key in ("checks", "metrics", "started", "duration_s", "mlgate_version"):
        assert key in body
    assert body["rows"] == 10  # extras sit beside the common keys
    check = body["checks"][0]
    assert {"name", "column", "severity", "passed", "observed", "expected", "message"} <= set(check)


def test_junit_has_one_testcase_per_check_and_one_failure(tmp_path: Path) -> None:
    paths = write_report(_report(), tmp_path)
    suite = ET.parse(paths["junit"]).getroot()
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases][0] == "unseen_categories[grade]"
    assert cases[0].find("failure") is not None and cases[1].find("failure") is None


def test_markdown_and_html_show_the_failure_first(tmp_path: Path) -> None:
    report = _report()
    fig = new_figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    report.figures.append(to_figure(fig, "a line"))
    paths = write_report(report, tmp_path)
    md = paths["markdown"].read_text()
    assert md.startswith("### ❌ mlgate validate: failed")
    assert md.index("unseen_categories") < md.index("row_count")
    html = paths["html"].read_text()
    assert "FAILED" in html and "<svg" in html and "a line" in html
    assert not list(tmp_path.glob("*.tmp"))


def test_merge_junit(tmp_path: Path) -> None:
    a = write_report(_report(), tmp_path / "a")["junit"]
    b = write_report(Report(stage="train", checks=[Check(name="x", passed=True)]), tmp_path / "b")["junit"]
    merge_junit([a, b], tmp_path / "all.xml")
    root = ET.parse(tmp_path / "all.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "1"


def test_junit_names_carry_the_table_and_markdown_folds_passing_checks(tmp_path: Path) -> None:
    report = Report(stage="validate", checks=[
        Check(name="out_of_range", column="age", passed=False, details={"table": "train"}),
        Check(name="out_of_range", column="age", passed=True, details={"table": "test"}),
    ])
    paths = write_report(report, tmp_path)
    names = [c.get("name") for c in ET.parse(paths["junit"]).getroot().findall("testcase")]
    assert names == ["train: out_of_range[age]", "test: out_of_range[age]"]
    md = paths["markdown"].read_text()
    assert "<details><summary>1 passing check</summary>" in md
    assert md.index("train: out_of_range") < md.index("<details>")


def test_a_skipped_check_reads_skipped_and_is_counted_apart(tmp_path: Path) -> None:
    report = Report(stage="test", checks=[
        Check(name="performance", passed=True, message="all 2 thresholds met"),
        Check(name="fairness", passed=True, severity="info", message="skipped: no protected attribute"),
    ])
    paths = write_report(report, tmp_path)
    md = paths["markdown"].read_text()
    assert "<details><summary>1 passing check, 1 skipped</summary>" in md
    assert "| fairness |  | skipped | skipped: no protected attribute |" in md
    assert "| fairness |  | pass |" not in md
    assert "2 checks, 0 failed, 0 warnings, 1 skipped" in md
    suite = ET.parse(paths["junit"]).getroot()
    assert suite.get("skipped") == "1"
    assert suite.find("testcase[@name='fairness']/skipped") is not None
    assert ">skipped</span>" in paths["html"].read_text()


def test_money_metrics_carry_the_cost_matrix_unit(tmp_path: Path) -> None:
    report = Report(stage="evaluate", metrics={"roc_auc": 0.91, "expected_cost": 12.5, "savings": 3.25},
                    extras={"business": {"baseline": "majority", "unit": "EUR"}})
    paths = write_report(report, tmp_path)
    md = paths["markdown"].read_text()
    assert "| expected_cost | 12.5 EUR |" in md and "| savings | 3.25 EUR |" in md
    assert "| roc_auc | 0.91 |" in md
    html = paths["html"].read_text()
    assert "12.5 EUR" in html and "3.25 EUR" in html and "0.91 EUR" not in html
