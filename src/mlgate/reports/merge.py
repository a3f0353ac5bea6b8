"""``mlgate report``: one run's stage reports merged into one report.html and one summary.md.

The source is a run folder (``.mlgate/runs/<id>``, the latest by default) or any folder of
stage folders that each hold a report.json, such as the ``mlgate-reports/`` folder a CI
job gathers from the artifacts of the jobs before it. summary.md is written for a
merge-request comment: the verdict of each stage, the key metrics with their change against
the production model (from compare), the failed checks, and links to the CI job artifacts.
It starts with a hidden marker so ``--post`` finds and updates its own earlier comment.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate._paths import write_text
from mlgate.errors import UsageError
from mlgate.reports import write_report
from mlgate.reports.model import Check, Report

MARKER = "<!-- mlgate-report:{project} -->"
# the default output: named apart from mlgate-reports/, the stages' own report folders it reads
MERGED_DIR = "merged-report"
STAGE_ORDER = ("validate", "scan", "tune", "train", "test", "evaluate", "compare", "register", "smoke",
               "deploy", "canary", "monitor")
MAX_FIGURES = 4  # per stage: the merged page stays readable, the stage's own page has them all
MAX_FAILED = 10  # failed checks listed per stage in the comment
MAX_METRICS = 6  # metrics in the comment when there is no comparison table
HEADLINE = ("roc_auc", "accuracy", "f1", "f1_macro", "log_loss", "pr_auc", "rmse", "mae", "r2")
_FIGURE = re.compile(r"<figure>.*?</figure>", re.DOTALL)


@dataclass
class StageReport:
    """One stage's report.json, with the plots of its report.html."""

    name: str
    folder: Path
    body: dict[str, Any]
    figures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.body.get("passed"))

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.body.get("checks", []) if not c.get("passed") and c.get("severity") == "error"]


@dataclass
class Merged:
    """Every stage report of one run, in pipeline order."""

    source: Path
    project: str
    stages: list[StageReport]
    links: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.stages)

    @property
    def marker(self) -> str:
        return MARKER.format(project=self.project)


def resolve_source(root: Path, run: str | None) -> Path:
    """The folder to merge: ``run`` as a path or a run id, else the latest run, else ./mlgate-reports."""
    runs = root / ".mlgate" / "runs"
    if run:
        for candidate in (Path(run), runs / run):
            if candidate.is_dir():
                return candidate
        raise UsageError(f"no run or report folder {run!r}: give a folder of stage reports or a run id "
                         f"from `mlgate status` (runs are in {runs})")
    latest = runs / "LATEST"
    if latest.exists() and (runs / latest.read_text().strip()).is_dir():
        return runs / latest.read_text().strip()
    if (root / "mlgate-reports").is_dir():
        return root / "mlgate-reports"
    raise UsageError(f"nothing to report: no run in {runs} and no ./mlgate-reports folder; "
                     "run `mlgate run` first or give a folder of stage reports")


def collect(source: Path, project: str) -> Merged:
    """Read each stage folder of ``source`` (a folder holding report.json)."""
    stages = []
    for folder in sorted((p for p in source.iterdir() if (p / "report.json").is_file()), key=_order):
        try:
            body = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{folder / 'report.json'} is not a readable report: {exc}") from exc
        if not isinstance(body, dict) or "stage" not in body:
            raise UsageError(f"{folder / 'report.json'} is not an mlgate report (no 'stage' key)")
        stages.append(StageReport(str(body["stage"]), folder, body, _figures(folder / "report.html")))
    if not stages:
        raise UsageError(f"{source} holds no stage reports (folders with a report.json)")
    return Merged(source, project, stages, ci_links())


def _order(folder: Path) -> tuple[int, str]:
    name = folder.name
    return (STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER), name)


def _figures(html: Path) -> list[str]:
    try:
        text = html.read_text(encoding="utf-8")
    except OSError:
        return []
    return _FIGURE.findall(text)[:MAX_FIGURES]


def ci_links(env: dict[str, str] | None = None) -> dict[str, str]:
    """Links to this pipeline's job artifacts, from the CI's own variables (none outside CI)."""
    env = dict(os.environ) if env is None else env
    links = {}
    if env.get("CI_JOB_URL"):
        links["job artifacts"] = f"{env['CI_JOB_URL']}/artifacts/browse"
    if env.get("CI_PIPELINE_URL"):
        links["pipeline"] = env["CI_PIPELINE_URL"]
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        links["workflow run and artifacts"] = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return links


def key_metrics(merged: Merged) -> list[dict[str, Any]]:
    """``[{metric, candidate, production, delta}]``: compare's table, else evaluate's metrics alone."""
    by_name = {s.name: s.body for s in merged.stages}
    table = (by_name.get("compare") or {}).get("comparison") or {}
    if table:
        return [{"metric": k, "candidate": v.get("candidate"), "production": v.get("baseline"),
                 "delta": v.get("delta"), "greater_is_better": v.get("greater_is_better", True)}
                for k, v in table.items()]
    source = "evaluate" if "evaluate" in by_name else "train"
    metrics = (by_name.get(source) or {}).get("metrics") or {}
    numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    # the headline metrics first, and few of them: a comment is read at a glance
    ranked = sorted(numbers, key=lambda k: HEADLINE.index(k) if k in HEADLINE else len(HEADLINE))[:MAX_METRICS]
    return [{"metric": k, "candidate": numbers[k], "production": None, "delta": None, "greater_is_better": True,
             "source": source} for k in ranked]


def as_report(merged: Merged) -> Report:
    """The merged verdict as a Report: one check per stage, for report.json and junit.xml."""
    report = Report(stage="report", key_figure=_headline(merged))
    for s in merged.stages:
        failed = len(s.failed_checks)
        report.add(Check(name=f"stage:{s.name}", passed=s.passed, observed="passed" if s.passed else "failed",
                         expected="passed", message=s.body.get("key_figure") or
                         (f"{failed} failed check{'s' if failed != 1 else ''}" if failed else "passed")))
    report.extras = {"source": str(merged.source), "stages": [s.name for s in merged.stages],
                     "key_metrics": key_metrics(merged), "links": merged.links}
    return report


def _headline(merged: Merged) -> str:
    failed = [s.name for s in merged.stages if not s.passed]
    if failed:
        return f"{', '.join(failed)} failed ({len(merged.stages) - len(failed)} of {len(merged.stages)} stages passed)"
    return f"all {len(merged.stages)} stages passed"


def summary_markdown(merged: Merged, report_link: str | None = None) -> str:
    """The merge-request comment."""
    icon = "✅" if merged.passed else "❌"
    lines = [merged.marker, f"### {icon} mlgate {merged.project}: {_headline(merged)}", "",
             "| stage | verdict | key figure |", "|---|---|---|"]
    lines += [f"| {s.name} | {'✅ passed' if s.passed else '❌ **failed**'} | {_cell(s.body.get('key_figure', ''))} |"
              for s in merged.stages]
    rows = key_metrics(merged)
    if rows:
        compared = any(r["production"] is not None for r in rows)
        where = "test data" if rows[0].get("source", "evaluate") == "evaluate" else "validation split"
        lines += ["", "**Key metrics**" + (" (candidate against the production model, same test data)"
                                          if compared else f" (candidate on the {where}; no production model "
                                                           "to compare with)"), ""]
        lines += ["| metric | candidate | production | change |", "|---|---|---|---|"] if compared else \
            ["| metric | candidate |", "|---|---|"]
        for r in rows:
            cand = _num(r["candidate"])
            lines.append(f"| {r['metric']} | {cand} | {_num(r['production'])} | {_delta(r)} |" if compared
                         else f"| {r['metric']} | {cand} |")
    for s in merged.stages:
        failed = s.failed_checks
        if failed:
            lines += ["", f"<details open><summary>{s.name}: {len(failed)} failed "
                      f"check{'s' if len(failed) != 1 else ''}</summary>", ""]
            lines += [f"- `{c['name']}`{' [' + str(c['column']) + ']' if c.get('column') else ''}: "
                      f"{_cell(c.get('message', ''))}" for c in failed[:MAX_FAILED]]
            if len(failed) > MAX_FAILED:
                lines.append(f"- ... and {len(failed) - MAX_FAILED} more in the stage's report")
            lines += ["", "</details>"]
    links = ({"full report (report.html)": report_link} if report_link else {}) | merged.links
    if links:
        lines += ["", " · ".join(f"[{k}]({v})" for k, v in links.items())]

    lines += ["", f"<sub>mlgate {__version__} · updated in place on every push</sub>"]
    return "\n".join(lines) + "\n"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _delta(row: dict[str, Any]) -> str:
    delta = row["delta"]
    if delta is None:
        return "–"
    better = (delta > 0) == bool(row["greater_is_better"])
    mark = "" if delta == 0 else (" 🟢" if better else " 🔴")
    return f"{delta:+.4f}{mark}"


def merged_html(merged: Merged, out_dir: Path) -> str:
    """report.html: the run's verdict, then a section per stage with its checks summary and key plots."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("mlgate", "reports/templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = env.get_template("merged.html.j2")
    links = {s.name: os.path.relpath(s.folder / "report.html", out_dir) for s in merged.stages}
    return template.render(m=merged, headline=_headline(merged), metrics=key_metrics(merged), num=_num,
                           delta=_delta, stage_links=links)


def write_merged(merged: Merged, out_dir: Path) -> dict[str, Path]:
    """Write report.json and junit.xml (stage verdicts), report.html and summary.md into ``out_dir``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output {out_dir} is a file; give a folder for the merged report")
    paths = write_report(as_report(merged), out_dir, html=False)
    paths["html"] = out_dir / "report.html"
    write_text(paths["html"], merged_html(merged, out_dir))
    link = merged.links.get("job artifacts")
    try:  # GitLab serves a job's artifact file by its path in the project
        where = out_dir.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        where = out_dir.name
    page = f"{link.removesuffix('/browse')}/file/{where}/report.html" if link else None
    write_text(paths["markdown"], summary_markdown(merged, page))
    return paths
