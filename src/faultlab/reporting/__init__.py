"""faultlab.reporting: per-run reports and benchmark leaderboards (Markdown + one-file HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def render_run_report(run_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html and plots/ for a finished run directory."""
    from faultlab.reporting.run_report import render_run_report as _render

    return _render(run_dir)


def render_leaderboard(out_dir: str | Path, **kwargs: Any) -> dict[str, Path]:
    """Write leaderboard.{csv,md,html} (+ runs.csv, plots/) for a benchmark directory."""
    from faultlab.reporting.leaderboard import render_leaderboard as _render

    return _render(out_dir, **kwargs)


__all__ = ["render_run_report", "render_leaderboard"]
