"""JUnit XML for GitLab and GitHub test reports: one testcase per check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from mlgate.reports.model import Check, Report


def report_to_junit(report: Report) -> ET.Element:
    """One <testsuite> named after the stage; a failed error check is a <failure>."""
    suite = ET.Element(
        "testsuite",
        name=f"mlgate.{report.stage}",
        tests=str(len(report.checks)),
        failures=str(len(report.failures)),
        errors="0",
        skipped=str(len(report.skipped)),
        time=f"{report.duration_s:.3f}",
        timestamp=report.started,
    )
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=f"mlgate.{report.stage}", name=testcase_name(check))
        if check.blocks:
            failure = ET.SubElement(case, "failure", message=check.message or check.name)
            failure.text = _describe(check.observed, check.expected)
        elif check.skipped:
            ET.SubElement(case, "skipped", message=check.message)
        elif not check.passed:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {check.message}"
    return suite


def testcase_name(check: Check) -> str:
    """``name[column]``, prefixed with the table (``test: out_of_range[age]``) when a check names one."""
    name = check.name if check.column is None else f"{check.name}[{check.column}]"
    table = check.details.get("table")
    return f"{table}: {name}" if table else name


def _describe(observed: object, expected: object) -> str:
    return f"observed: {json.dumps(observed, default=str)}\nexpected: {json.dumps(expected, default=str)}"


def write_junit(report: Report, path: Path) -> None:
    tree = ET.ElementTree(report_to_junit(report))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
