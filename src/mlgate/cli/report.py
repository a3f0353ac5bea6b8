"""``mlgate report [RUN] [--output DIR] [--post]``: one run's reports merged, and posted to the MR."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, console, maybe_load
from mlgate.cli.app import app


@app.command()
def report(
    run: Annotated[str | None, typer.Argument(
        help="A run id (see `mlgate status`), a run folder, or a folder of stage report folders "
             "(default: the latest run, else ./mlgate-reports).", show_default=False)] = None,
    config: ConfigOpt = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Folder for the merged report.html, summary.md, report.json and junit.xml "
                               "(default: ./merged-report, apart from the stages' mlgate-reports/).")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post summary.md as a GitLab merge-request note or GitHub "
                                       "pull-request comment, updating mlgate's earlier one.")] = False,
    post_if_possible: Annotated[bool, typer.Option(
        "--post-if-possible", help="As --post where the CI gives a merge/pull request and a token; elsewhere "
                                   "(a push pipeline, no token) say why nothing was posted and exit 0.")] = False,
) -> int:
    """Merge one run's stage reports into one report.html and a merge-request summary.md.

    Exit 0 once written (and posted), whatever the stages' verdicts: the gates' own jobs
    carry those. With --post, the CI's variables and a token must be in the environment;
    when they are missing, the message names them and the exit code is 2. The CI's report
    job uses --post-if-possible: the report is written always, posted where it can be.
    """
    from mlgate.reports.merge import MERGED_DIR, collect, resolve_source, write_merged

    cfg = maybe_load(config)
    root = cfg.root if cfg else Path.cwd()
    merged = collect(resolve_source(root, run), cfg.project if cfg else root.name)
    if post:  # before writing anything: a missing variable is found before any work
        from mlgate.reports.post import choose_poster

        choose_poster()
    paths = write_merged(merged, output or root / MERGED_DIR)
    console.print(f"{'PASSED' if merged.passed else 'FAILED'}: {len(merged.stages)} stages from {merged.source}")
    console.print(f"Report: {paths['html']}  Summary: {paths['markdown']}")
    if post_if_possible and not post:
        from mlgate.reports.post import why_not_posted

        post = why_not_posted() is None
        if not post:
            console.print(f"Not posted: {why_not_posted()}")
    if post:
        from mlgate.reports.post import post_summary

        posted = post_summary(paths["markdown"].read_text(encoding="utf-8"), merged.marker)
        console.print(f"{posted.action} the {posted.platform} comment {posted.url}")
    return 0
