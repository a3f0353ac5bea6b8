"""CI exporters: the pipeline as GitLab CI or GitHub Actions jobs, and the CI train matrix."""

from __future__ import annotations

from mlgate.ci.exporters import CI_EXPORTERS, render, stale_diff

__all__ = ["CI_EXPORTERS", "render", "stale_diff"]
