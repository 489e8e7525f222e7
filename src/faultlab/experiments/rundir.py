"""The run directory: one folder per (model, fold, seed) with fixed file names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from faultlab.errors import ConfigError

CONFIG = "config.yaml"
SPLIT = "split.json"
HISTORY = "history.csv"
MODEL_DIR = "model"
SUMMARY = "summary.json"
METRICS = "metrics.json"
PREPROCESS = "preprocess.json"
EVIDENCE = "evidence.json"  # per-class mean order-domain envelope spectra (for the report)
CHECKPOINT = "checkpoint.pt"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PLOTS = "plots"


def slug(text: str) -> str:
    """A folder-safe name for a fold or model label ("test load_hp 3" -> "test-load_hp-3")."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", str(text)).strip("-") or "run"


def is_complete(run_dir: Path) -> bool:
    return (Path(run_dir) / METRICS).exists()


def read_json(run_dir: Path, name: str) -> dict[str, Any]:
    path = Path(run_dir) / name
    if not path.exists():
        raise ConfigError(f"{path}: missing (is {run_dir} a faultlab run directory?)")
    return json.loads(path.read_text())


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / HISTORY
    if not path.exists() or path.stat().st_size == 0:
        return []
    return pd.read_csv(path).to_dict(orient="records")
