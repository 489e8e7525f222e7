"""The bottom floor: records and names every layer shares, importing nothing of faultlab.

``FitResult`` and ``ModelSummary`` are what a model's ``fit``/``describe`` return (the
training engine builds the first, reports read both); the run-directory and benchmark
file names are written here once, so writers and readers cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FitResult:
    """What ``fit`` reports. ``history`` has one dict per epoch (empty for one-shot models)."""

    history: list[dict[str, float]] = field(default_factory=list)
    epochs: int = 0
    best_epoch: int | None = None
    train_seconds: float = 0.0
    stopped_reason: str = "completed"
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)


@dataclass
class ModelSummary:
    """Size and structure for reports: ``layers`` rows have name, type, output_shape, params."""

    name: str
    family: str
    n_params: int
    trainable_params: int
    size_bytes: int
    layers: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- a run directory: runs/<model>/<fold>/seed<N>/ ------------------------------------------
CONFIG = "config.yaml"  # the effective config
SPLIT = "split.json"
HISTORY = "history.csv"
MODEL_DIR = "model"  # model.json + weights
MODEL_JSON = "model.json"  # inside MODEL_DIR: how to rebuild the model
SUMMARY = "summary.json"  # ModelSummary
METRICS = "metrics.json"
PREPROCESS = "preprocess.json"  # what predict/serve replay on new files
EVIDENCE = "evidence.json"  # per-class mean order-domain envelope spectra (for the report)
CHECKPOINT = "checkpoint.pt"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PLOTS = "plots"
#: Written last, atomically, once metrics, model, report and plots are all in place: a run
#: is finished exactly when this file exists and it and metrics.json read back.
DONE = "done.json"
#: ``faultlab export`` output beside the model (classes, preprocessing, one entry per format).
EXPORT_METADATA = "metadata.json"

# -- a tune output directory: OUT/tuning.json, OUT/<model>/trials.csv, OUT/tuning_report.* ---
TUNING_SUMMARY = "tuning.json"
TRIALS = "trials.csv"
TUNING_REPORT_MD = "tuning_report.md"
TUNING_REPORT_HTML = "tuning_report.html"

#: The artefacts a tracker (MLflow) copies from a finished run, in this order.
RUN_ARTEFACTS = (CONFIG, SPLIT, PREPROCESS, HISTORY, SUMMARY, METRICS, REPORT_MD, REPORT_HTML)


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """``history.csv`` as one dict per epoch ([] when absent, empty or unreadable: a history
    only feeds curves and summaries, never a decision). Missing values read as None."""
    import pandas as pd

    path = Path(run_dir) / HISTORY
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, ValueError, OSError):
        return []
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in df.to_dict("records")
    ]
