"""Plot helpers: matplotlib figures rendered to inline SVG for report.html."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from mlgate.reports.model import Figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure


def new_figure(width: float = 5.0, height: float = 3.4) -> MplFigure:
    """A matplotlib figure that needs no display (Agg backend, no pyplot state)."""
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(width, height), layout="constrained")


def to_figure(fig: MplFigure, title: str, caption: str = "") -> Figure:
    """Render a matplotlib figure as inline SVG for a report."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.find("<svg"):]  # drop the XML prolog so the SVG can sit inside HTML
    return Figure(title=title, svg=svg, caption=caption)
