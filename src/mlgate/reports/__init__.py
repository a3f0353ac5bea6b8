"""Report writers: report.json, junit.xml, summary.md and report.html for every gate."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlgate.reports.html import report_to_html
from mlgate.reports.junit import write_junit
from mlgate.reports.markdown import report_to_markdown
from mlgate.reports.model import Check, Figure, Report, Section, Timer

__all__ = ["Check", "Figure", "Report", "Section", "Timer", "write_report"]


def write_report(report: Report, out_dir: Path, *, html: bool = True) -> dict[str, Path]:
    """Write the four report files into ``out_dir``; return their paths by kind.

    Each file is written to a temporary name and renamed, so a crash never leaves a
    half-written report behind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "junit": out_dir / "junit.xml",
        "markdown": out_dir / "summary.md",
    }
    _atomic_text(paths["json"], json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    tmp = paths["junit"].with_suffix(".xml.tmp")
    write_junit(report, tmp)
    os.replace(tmp, paths["junit"])
    _atomic_text(paths["markdown"], report_to_markdown(report))
    if html:
        paths["html"] = out_dir / "report.html"
        _atomic_text(paths["html"], report_to_html(report))
    return paths


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
