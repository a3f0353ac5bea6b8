"""CI exporters: render the pipeline as GitLab CI or GitHub Actions jobs."""

from __future__ import annotations

from mlgate.ci.exporters import CI_EXPORTERS, render

__all__ = ["CI_EXPORTERS", "render"]
