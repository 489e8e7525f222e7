"""The bottom floor: records and names every layer shares, importing nothing of faultlab.

``FitResult`` and ``ModelSummary`` are what a model's ``fit``/``describe`` return (the
training engine builds the first, reports read both); ``Metrics`` (with its ``RunSummary``
and the other blocks) is ``metrics.json`` as typed records, written by the runner and read
by the reports; the run-directory and benchmark file names are written here once, so
writers and readers cannot drift apart. ``contracts.training`` holds ``TrainConfig``: the
hyper-parameters a model carries (its seed, its loss options; saved in ``model.json``) and
the training loop reads, so models need not import the floor that trains them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar


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


# -- metrics.json as typed records ---------------------------------------------------------
R = TypeVar("R", bound="JsonRecord")


@dataclass
class JsonRecord:
    """A block of a JSON file as a dataclass. ``from_json`` reads any version of the block:
    missing keys take their defaults (files from before a key existed), keys this version
    does not name stay in ``extra`` and are written back by ``to_json`` (after the named
    ones, in their order), so reading and writing a file loses nothing."""

    #: field name -> record type of the nested blocks
    nested: ClassVar[dict[str, type[JsonRecord]]] = {}
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls: type[R], data: Any) -> R:
        data = dict(data) if isinstance(data, Mapping) else {}
        given: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra" or f.name not in data:
                continue
            value = data[f.name]
            if f.name in cls.nested:
                value = cls.nested[f.name].from_json(value)
            elif callable(f.default_factory):  # a mapping or list block: of that kind or absent
                kind = Mapping if isinstance(f.default_factory(), dict) else list
                if not isinstance(value, kind):
                    continue
            given[f.name] = value
        names = {f.name for f in fields(cls) if f.name != "extra"}
        return cls(**given, extra={k: v for k, v in data.items() if k not in names})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name != "extra":
                value = getattr(self, f.name)
                out[f.name] = value.to_json() if isinstance(value, JsonRecord) else value
        return {**out, **self.extra}


@dataclass
class Scores(JsonRecord):
    """metrics.json ``primary``: the primary task's test scores."""

    task: str | None = None
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    roc_auc: float | None = None
    recording_accuracy: float | None = None
    roc_auc_macro: float | None = None


@dataclass
class RunSummary(JsonRecord):
    """metrics.json ``run``: which model ran on which split and data, and where."""

    name: str | None = None
    model: str | None = None
    model_label: str | None = None
    fold: str | None = None
    seed: int | None = None
    target: str | None = None
    tasks: list[str] = field(default_factory=list)
    split_kind: str | None = None
    split_description: str | None = None
    leaky: bool = False
    protocol: str | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    adaptation: dict[str, Any] | None = None
    train_data: str | None = None
    train_machine: str | None = None
    test_data: str | None = None
    test_machine: str | None = None
    created: str | None = None
    host: dict[str, Any] = field(default_factory=dict)
    config_hash: str | None = None

    @property
    def label(self) -> str:
        """The leaderboard name (``model.label``, else the registry name)."""
        return str(self.model_label or self.model or "?")

    def source(self, key: str) -> str:
        """``train_data`` ... ``test_machine``; runs from before these keys: the dataset
        for ``*_data``, else "?"."""
        value = getattr(self, key)
        return str(value or (self.dataset if key.endswith("_data") and self.dataset else "?"))


@dataclass
class TrainingSummary(JsonRecord):
    """metrics.json ``training``: how the fit went (``final``/``best`` are history rows)."""

    train_seconds: float | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    seconds_per_epoch: float | None = None
    stopped_reason: str | None = None
    device: str | None = None
    final: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    schedule: str | None = None


@dataclass
class ModelSize(JsonRecord):
    """metrics.json ``model``: size and family."""

    n_params: int | None = None
    trainable_params: int | None = None
    size_bytes: int | None = None
    family: str | None = None


@dataclass
class Speed(JsonRecord):
    """metrics.json ``speed``: inference latency and throughput (more keys in ``extra``)."""

    latency_ms_batch1: float | None = None
    latency_ms_batched: float | None = None
    throughput_windows_s: float | None = None


@dataclass
class DataSummary(JsonRecord):
    """metrics.json ``data``: the windows a run saw."""

    n_windows: dict[str, int] = field(default_factory=dict)
    window: int | None = None
    channels: list[str] = field(default_factory=list)
    sampling_rate: float | None = None
    standardised: bool | None = None
    frontend: dict[str, Any] | None = None
    rpm_source: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Metrics(JsonRecord):
    """A run's ``metrics.json``. ``tasks`` (per task: scores, per-class report, confusion
    matrix, recording votes), ``val`` (the same on validation windows), ``resources`` and
    ``diagnosis`` stay mappings: their keys depend on the task and the evaluation."""

    nested: ClassVar[dict[str, type[JsonRecord]]] = {
        "run": RunSummary,
        "primary": Scores,
        "training": TrainingSummary,
        "speed": Speed,
        "model": ModelSize,
        "data": DataSummary,
    }
    run: RunSummary = field(default_factory=RunSummary)
    primary: Scores = field(default_factory=Scores)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    val: dict[str, Any] = field(default_factory=dict)
    training: TrainingSummary = field(default_factory=TrainingSummary)
    speed: Speed = field(default_factory=Speed)
    model: ModelSize = field(default_factory=ModelSize)
    resources: dict[str, Any] = field(default_factory=dict)
    data: DataSummary = field(default_factory=DataSummary)
    diagnosis: dict[str, Any] = field(default_factory=dict)

    @property
    def primary_task(self) -> dict[str, Any]:
        """The primary task's entry of ``tasks`` ({} when absent)."""
        return self.tasks.get(self.primary.task or "") or {}

    @property
    def roc_auc(self) -> float | None:
        """Macro one-vs-rest ROC-AUC of the primary task, under whichever name the run
        stored it (``roc_auc``, ``roc_auc_macro``, or only in its task block)."""
        p = self.primary
        if p.roc_auc is not None:
            return p.roc_auc
        if p.roc_auc_macro is not None:
            return p.roc_auc_macro
        return self.primary_task.get("roc_auc_ovr_macro")

    @property
    def peak_rss_mb(self) -> float | None:
        return self.resources.get("peak_rss_mb")

    @property
    def verdict(self) -> str | None:
        """The fit diagnosis' one-word verdict."""
        return self.diagnosis.get("verdict")


def read_metrics(run_dir: str | Path) -> Metrics | None:
    """``run_dir/metrics.json`` as :class:`Metrics`; None when absent or unreadable."""
    import json

    try:
        data = json.loads((Path(run_dir) / METRICS).read_text())
    except (OSError, ValueError):
        return None
    return Metrics.from_json(data) if isinstance(data, dict) else None


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
