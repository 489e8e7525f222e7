"""Predict on new recordings with a trained run: windows -> probabilities -> verdicts.

A :class:`Predictor` pairs a run's :class:`~faultlab.serving.preprocess.Preprocessing` with a
backend that maps windows to ``{task: [n, k]}`` probabilities: ``torch`` (the saved model's
own ``predict_proba``; any model, deep or not) or ``onnx`` (ONNX Runtime on an exported
graph). The recording-level verdict of a task is the class with the highest mean probability
over the recording's windows (a soft vote); its confidence is that mean probability.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from faultlab.contracts import MODEL_DIR, MODEL_JSON
from faultlab.errors import ConfigError, DataError
from faultlab.limits import MAX_WINDOWS
from faultlab.serving.metadata import model_fingerprint, model_metadata  # noqa: F401
from faultlab.serving.preprocess import Prepared, Preprocessing, prepare, prepare_file
from faultlab.serving.streams import CHUNK, Streams, usable_cpus
from faultlab.utils.io import atomic_path, write_json


class Backend(Protocol):
    name: str

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]: ...


class NativeBackend:
    """The saved model itself (torch nets, sklearn pipelines, ...)."""

    name = "native"

    def __init__(self, run_dir: Path, threads: int | None = None) -> None:
        from faultlab.models.base import load_model

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model = load_model(Path(run_dir) / "model")
        self.tasks = list(self.model.classes)

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return self.model.predict_proba(X)


class OnnxBackend:
    """ONNX Runtime on an exported model (``export_run(..., "onnx")``).

    A deep model's graph runs as ``threads`` single-threaded streams over chunks of
    ``CHUNK`` windows (:class:`Streams`); a feature model's classifier graph runs on
    ``threads`` intra-op threads after the numpy front end (which splits large batches over
    the same number of threads). ``threads=None``: every usable CPU.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: Path,
        tasks: list[str],
        threads: int | None = 2,
        frontend: dict[str, Any] | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self.tasks = list(tasks)
        self.frontend = None
        if frontend:  # a feature model: windows -> features in numpy, then the graph
            from faultlab.serving.classical_onnx import FrontEnd

            self.session = onnx_session(model_path, threads)
            self.frontend = FrontEnd(frontend, Path(model_path).parent, threads or 1)
        else:
            self.session = onnx_session(model_path, 1)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        streams = 1 if frontend else (threads or usable_cpus())
        self.run = Streams(self._run_graph, streams, chunk if not frontend else 1 << 30)

    def _run_graph(self, X: np.ndarray) -> list[np.ndarray]:
        # the exported graphs have dense tensor outputs only (no sparse/sequence/map)
        return cast(list[np.ndarray], self.session.run(self.output_names, {self.input_name: X}))

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        X = np.asarray(X, np.float32)
        if self.frontend is not None:
            X = self.frontend(X)
        return dict(zip(self.tasks, self.run(X)))


def onnx_session(model_path: Path, threads: int | None = 2, **options: Any):
    """An ORT CPU session: all graph optimisations, ``threads`` intra-op threads, no spinning.

    Spinning worker threads (ORT's default) burn a core between calls; on a shared or busy
    box that slows every other process. Measured by ``benchmarks/inference_latency.py``
    (``ort_settings_fp32``: cnn1d, batch 256, this shared 2-core machine at load 16-18, two
    runs): with two threads spinning off was faster both times (5,825 vs 3,369 and 8,514 vs
    4,607 windows/s); with one thread it went either way (8,611 vs 6,351; 8,138 vs 10,280).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", options.get("spin", "0"))
    return ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])


def _exported_backend(run_dir: Path, make: Callable[[Path, dict[str, Any]], Backend]) -> Backend:
    """``make(model.onnx, its metadata)`` on the run's exported ONNX model, exporting it to
    a temporary folder when there is none or it is older than the model (a resumed or
    retrained run). The backend holds the graph in memory, so that folder is removed at once.
    """
    from faultlab.serving.export import METADATA_FILE, export_run

    exported = Path(run_dir) / "export"
    onnx_file, model_json = exported / "model.onnx", Path(run_dir) / MODEL_DIR / MODEL_JSON
    if onnx_file.exists() and onnx_file.stat().st_mtime >= model_json.stat().st_mtime:
        return make(onnx_file, json.loads((exported / METADATA_FILE).read_text()))
    with tempfile.TemporaryDirectory(prefix="faultlab-onnx-") as tmp:
        export_run(run_dir, "onnx", tmp)
        return make(Path(tmp) / "model.onnx", json.loads((Path(tmp) / METADATA_FILE).read_text()))


def _onnx_backend(run_dir: Path, threads: int | None) -> Backend:
    def make(path: Path, meta: dict[str, Any]) -> Backend:
        frontend = meta.get("exports", {}).get("onnx", {}).get("frontend")
        return OnnxBackend(path, meta["tasks"], threads, frontend)

    return _exported_backend(run_dir, make)


def _openvino_backend(run_dir: Path, threads: int | None) -> Backend:
    from faultlab.serving.ov_backend import OpenVinoBackend, check_available

    check_available(run_dir)  # before any export: a clear error when it cannot run here

    def make(path: Path, meta: dict[str, Any]) -> Backend:
        if meta.get("exports", {}).get("onnx", {}).get("frontend"):
            raise ConfigError(
                f"{run_dir}: the openvino backend runs deep models' graphs; this is a feature "
                "model (its classifier graph uses ONNX-ML operators): use --backend onnx"
            )
        return OpenVinoBackend(path, meta["tasks"], threads)

    return _exported_backend(run_dir, make)


#: Backend name -> factory(run_dir, threads). ``torch`` and ``native`` are the same: the
#: saved model's own ``predict_proba`` (a torch network or a scikit-learn pipeline).
BACKENDS: dict[str, Callable[[Path, int | None], Backend]] = {
    "torch": lambda run_dir, threads: NativeBackend(run_dir, threads),
    "native": lambda run_dir, threads: NativeBackend(run_dir, threads),
    "onnx": _onnx_backend,
    "openvino": _openvino_backend,  # pip install 'faultlab[openvino]'
}


@dataclass
class Verdict:
    """One task's recording-level answer."""

    task: str
    prediction: str
    confidence: float
    shares: dict[str, float]
    mean_proba: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "prediction": self.prediction,
            "confidence": self.confidence,
            "shares": self.shares,
            "mean_proba": self.mean_proba,
        }


@dataclass
class RecordingPrediction:
    """Per-window probabilities and the verdicts of one recording."""

    name: str
    prepared: Prepared
    proba: dict[str, np.ndarray]
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    evidence: dict[str, Any] | None = None  # the envelope expert's lines (explain)

    @property
    def n_windows(self) -> int:
        return len(self.prepared)

    @property
    def prediction(self) -> str:
        """The first task's verdict (the class name), e.g. ``"IR-0.014"``."""
        return next(iter(self.verdicts.values())).prediction

    @property
    def confidence(self) -> float:
        """The first task's verdict confidence: its mean window probability."""
        return next(iter(self.verdicts.values())).confidence

    def summary(self) -> dict[str, Any]:
        out = {
            "file": self.name,
            "n_windows": self.n_windows,
            "sampling_rate": self.prepared.source_rate,
            "tasks": {t: v.to_dict() for t, v in self.verdicts.items()},
        }
        if self.prepared.rpm is not None:
            out.update(
                shaft_rpm=self.prepared.rpm,
                rpm_source=self.prepared.rpm_source,
                bearing=self.prepared.bearing,
            )
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out


def verdicts(proba: dict[str, np.ndarray], classes: dict[str, list[str]]) -> dict[str, Verdict]:
    """Soft vote per task: the class with the highest mean probability over the windows."""
    out = {}
    for task, p in proba.items():
        names = classes[task]
        mean = p.mean(axis=0)
        best = int(mean.argmax())
        counts = np.bincount(p.argmax(axis=1), minlength=len(names)) / max(len(p), 1)
        out[task] = Verdict(
            task=task,
            prediction=names[best],
            confidence=float(mean[best]),
            shares={n: float(s) for n, s in zip(names, counts)},
            mean_proba={n: float(m) for n, m in zip(names, mean)},
        )
    return out


class Predictor:
    """A run ready to answer: preprocessing + backend + class names.

    ``Predictor(run_dir)`` loads a finished run directory; :meth:`from_model` wraps a model
    still in memory (``faultlab.run(..., out=None)``) with the preprocessing it was trained
    with. Either way :meth:`predict` takes a raw recording (a file or an array).
    """

    def __init__(
        self,
        run_dir: str | Path,
        backend: str = "torch",
        threads: int | None = None,
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        run_dir = Path(run_dir)
        model_json = run_dir / MODEL_DIR / MODEL_JSON
        if not model_json.exists():
            raise ConfigError(f"{run_dir}: not a finished faultlab run (no model/model.json)")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; choose from {sorted(BACKENDS)}")
        try:
            model_info = json.loads(model_json.read_text())
        except ValueError as exc:
            raise ConfigError(f"{model_json}: invalid saved model ({type(exc).__name__})") from None
        self._setup(
            run_dir,
            Preprocessing.from_run(run_dir),
            model_info,
            backend,
            BACKENDS[backend](run_dir, threads),
            max_windows,
        )

    def _setup(
        self,
        run_dir: Path | None,
        pre: Preprocessing,
        model_info: dict[str, Any],
        backend_name: str,
        backend: Backend,
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        self.run_dir = run_dir
        self.pre = pre
        self.model_info = model_info
        #: windows one recording may make (bounds a request's memory and time)
        self.max_windows = int(max_windows)
        try:
            self.classes: dict[str, list[str]] = {
                str(t): [str(x) for x in c] for t, c in model_info["classes"].items()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            where = run_dir / MODEL_DIR / MODEL_JSON if run_dir is not None else "model"
            raise ConfigError(f"{where}: invalid saved model ({type(exc).__name__})") from None
        self.tasks = list(self.classes)
        self.backend_name = backend_name
        self.backend = backend

    @classmethod
    def from_model(cls, model: Any, preprocess: dict[str, Any]) -> Predictor:
        """A predictor around a fitted in-memory FaultModel and its ``preprocess.json`` dict."""
        self = cls.__new__(cls)
        info = {"name": model.name, "params": model.params_dict(), "classes": model.classes}
        self._setup(None, Preprocessing.from_dict(preprocess), info, "native", model)
        return self

    @property
    def model_name(self) -> str:
        return str(self.model_info.get("name", "?"))

    def predict_windows(self, X: np.ndarray, batch_size: int = 512) -> dict[str, np.ndarray]:
        """Probabilities for prepared windows, ``batch_size`` windows at a time."""
        if len(X) == 0:
            return {t: np.zeros((0, len(c)), np.float32) for t, c in self.classes.items()}
        parts = [
            self.backend.predict_proba(X[i : i + batch_size]) for i in range(0, len(X), batch_size)
        ]
        return {t: np.concatenate([p[t] for p in parts]).astype(np.float32) for t in self.tasks}

    def predict_prepared(self, prepared: Prepared, batch_size: int = 512) -> RecordingPrediction:
        proba = self.predict_windows(prepared.X, batch_size)
        rp = RecordingPrediction(prepared.name, prepared, proba, verdicts(proba, self.classes))
        model = getattr(self.backend, "model", None)
        if model is not None and hasattr(model, "explain") and len(prepared.X):
            rp.evidence = model.explain(prepared.X)  # analyst models say why
        return rp

    def predict_signal(
        self,
        signal: np.ndarray,
        sampling_rate: float | None,
        name: str = "input",
        batch_size: int = 512,
    ) -> RecordingPrediction:
        prepared = prepare(self.pre, signal, sampling_rate, name, max_windows=self.max_windows)
        return self.predict_prepared(prepared, batch_size)

    def predict_file(
        self,
        path: str | Path,
        sampling_rate: float | None = None,
        channels: list[str] | None = None,
        batch_size: int = 512,
        name: str | None = None,
        rpm: float | None = None,
        bearing: str | None = None,
    ) -> RecordingPrediction:
        prepared = prepare_file(
            self.pre,
            path,
            sampling_rate,
            channels,
            name,
            rpm,
            bearing,
            max_windows=self.max_windows,
        )
        return self.predict_prepared(prepared, batch_size)

    def predict(
        self,
        source: str | Path | np.ndarray,
        sampling_rate: float | None = None,
        channels: list[str] | None = None,
        name: str | None = None,
    ) -> RecordingPrediction:
        """Verdicts for one raw recording: a file path (.mat/.npy/.csv/.wav) or a signal array
        (``[n]`` or ``[channels, n]``; give its ``sampling_rate``). The run's preprocessing
        (channel, resampling, windowing, normalisation) is replayed first."""
        if isinstance(source, str | Path):
            return self.predict_file(source, sampling_rate, channels, name=name)
        return self.predict_signal(np.asarray(source), sampling_rate, name or "input")

    def predict_files(
        self,
        paths: Iterable[str | Path],
        sampling_rate: float | None = None,
        channels: list[str] | None = None,
        batch_size: int = 512,
        rpm: float | None = None,
        bearing: str | None = None,
    ) -> list[RecordingPrediction]:
        """Every file is read and checked before any is predicted: one bad file fails fast."""
        prepared = [
            prepare_file(
                self.pre,
                p,
                sampling_rate,
                channels,
                None,
                rpm,
                bearing,
                max_windows=self.max_windows,
            )
            for p in paths
        ]
        return [self.predict_prepared(p, batch_size) for p in prepared]

    def metadata(self) -> dict[str, Any]:
        return model_metadata(self.run_dir, self.pre, self.model_info)


# -- outputs ---------------------------------------------------------------------------------------
def window_table(preds: list[RecordingPrediction], classes: dict[str, list[str]]) -> pd.DataFrame:
    """One row per window: file, index, start, predicted class and probabilities per task."""
    frames = []
    for rp in preds:
        cols: dict[str, Any] = {
            "file": rp.name,
            "window": np.arange(rp.n_windows),
            "start_sample": rp.prepared.start_sample,
            "start_s": np.round(rp.prepared.start_s, 6),
        }
        for task, p in rp.proba.items():
            names = np.asarray(classes[task], dtype=object)
            cols[task] = names[p.argmax(axis=1)] if len(p) else np.array([], dtype=object)
            cols[f"{task}_confidence"] = p.max(axis=1) if len(p) else np.array([])
            for j, name in enumerate(classes[task]):
                cols[f"p_{task}_{name}"] = p[:, j]
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


OUTPUT_FORMATS = (".csv", ".json")


def write_predictions(
    path: str | Path, preds: list[RecordingPrediction], predictor: Predictor
) -> Path:
    """Per-window predictions as CSV, or as JSON with the verdicts too (atomic write).

    JSON ``windows`` rows have the CSV's columns, so both formats read the same way.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise DataError(f"{path}: output must end in {' or '.join(OUTPUT_FORMATS)}")
    table = window_table(preds, predictor.classes)
    if suffix == ".csv":
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        return path
    windows = table.to_json(orient="records", double_precision=6)
    assert windows is not None  # no path given: pandas returns the text
    write_json(
        path,
        {
            "run_dir": str(predictor.run_dir),
            "model": predictor.model_name,
            "classes": predictor.classes,
            "recordings": [rp.summary() for rp in preds],
            "windows": json.loads(windows),
        },
    )
    return path
