"""``mlgate monitor``: drift and live performance against the registered reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, OutputOpt, finish, maybe_load
from mlgate.cli._plugins import PluginHelp
from mlgate.cli.app import app
from mlgate.locations.refs import flag_ref


@app.command(cls=PluginHelp)
def monitor(
    config: ConfigOpt = None,
    reference: Annotated[str | None, typer.Option(
        help="models:/NAME@ALIAS (the profile stored at registration), a profile.json, or training data. "
             "Default: monitor.reference, else models:/<model>@production.")] = None,
    current: Annotated[str | None, typer.Option(parser=flag_ref, metavar="PATH",
        help="Current data: a CSV or Parquet file or a folder of them (or s3://, gs://, az://), read in "
             "batches (default: monitor.current; give it or --from-log).")] = None,
    from_log: Annotated[Path | None, typer.Option(
        "--from-log", help="The server's prediction-log folder; its latest window is the current batch "
                          "(default: monitor.from_log).")] = None,
    window: Annotated[str | None, typer.Option(
        help="Window length for --from-log and the performance trend, e.g. 24h, 30m, 7d (default 24h).")] = None,
    labels: Annotated[str | None, typer.Option(parser=flag_ref, metavar="PATH",
        help="Delayed labels (CSV/Parquet: request_id, label[, row]) joined with --from-log (default: "
             "monitor.labels, none).")] = None,
    push: Annotated[str | None, typer.Option(
        help="Prometheus Pushgateway URL to send the drift gauges to (default: monitor.push, none).")] = None,
    dask: Annotated[str | None, typer.Option(
        help="Dask scheduler address: profile the --current files on that cluster "
             "(pip install 'mlgate[dask]'; default: none, in this process).")] = None,
    output: OutputOpt = None,
) -> int:
    """Drift per feature, prediction and target, and live performance; exit 1 on an alert.

    An alert is dataset drift, a critical column's drift or a performance decay. Comparison
    methods (monitor -> columns -> COLUMN -> method takes one that reads samples or counts): {methods}."""
    from mlgate.config import flags_only_config
    from mlgate.context import standalone_context
    from mlgate.monitor.stage import MonitorOptions, run_monitor

    cfg = maybe_load(config)
    options = MonitorOptions(reference=reference, current=current, from_log=from_log, window=window,
                             labels=labels, push=push, dask=dask)
    ctx = standalone_context("monitor", cfg or flags_only_config(Path.cwd()), output=output)
    ctx.bare = cfg is None  # no mlgate.yaml: the monitor section's defaults are nobody's word
    return finish(run_monitor(ctx, options), ctx.out_dir)
