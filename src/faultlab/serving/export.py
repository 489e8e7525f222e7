"""Export a trained run for deployment: ONNX or TorchScript plus ``metadata.json``.

``metadata.json`` holds the model's classes, tasks, input, window, rate, channels and
preprocessing, plus one ``exports`` entry per format written to the folder. The exported
graph takes *prepared* windows (``[batch, C, L]`` float32, after the run's
resampling, windowing, normalisation and standardiser — see ``metadata.json``
``preprocessing``) and returns one probability tensor per task (softmax included), named
``proba_<task>``, with a dynamic batch axis. Every export is checked against the model's own
``predict_proba`` before it is written (at most 1e-4 in probabilities, identical labels);
the largest difference goes into the metadata.

Classical (feature) models export their classifier as ONNX (skl2onnx) over a feature vector;
their front end (features or MiniRocket) is numpy/numba code described in the ``onnx`` entry's
``frontend`` (see :mod:`faultlab.serving.classical_onnx`); ``predict``/``serve --backend
onnx`` run both.

ONNX: torch 2.9+ defaults to the dynamo (``torch.export``) exporter, which needs
``onnxscript``; when that is missing or fails, the TorchScript-based exporter
(``dynamo=False``, still shipped in torch 2.13) is used. It handles LSTM/GRU at opset 17.
TorchScript (``torch.jit.trace`` + ``freeze``) is deprecated in torch 2.13 but still works;
ONNX is the format to prefer.
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from faultlab.contracts import EXPORT_METADATA, MODEL_DIR, MODEL_JSON
from faultlab.serving.classical_onnx import ExportError
from faultlab.serving.metadata import model_metadata
from faultlab.serving.preprocess import Preprocessing
from faultlab.utils.io import atomic_path, write_json

METADATA_FILE = EXPORT_METADATA
FILE_NAMES = {"onnx": "model.onnx", "torchscript": "model.ts"}
OPSET = 17
#: Largest tolerated |exported - predict_proba| on the verification batch.
TOLERANCE = 1e-4


@dataclass
class ExportResult:
    format: str
    model_path: Path
    metadata_path: Path
    exporter: str
    max_abs_diff: float
    notes: list[str] = field(default_factory=list)


def _torch_net(model: Any):
    """The nn.Module of a TorchModel (``net``), or None for non-torch models."""
    net = getattr(model, "net", None)
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a core dependency
        return None
    return net if isinstance(net, nn.Module) else None


def _proba_module(model: Any):
    """The model's network with softmax per task and tuple outputs in task order."""
    import torch
    from torch import nn

    net = _torch_net(model)
    if net is None:  # the callers send non-torch models elsewhere
        raise ExportError(f"{type(model).__name__} has no torch network to export")
    tasks = list(model.classes)

    class ProbaOutput(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.net(x)
            return tuple(torch.softmax(out[t], dim=1) for t in tasks)

    return ProbaOutput().eval()


def supported_formats(model: Any) -> list[str]:
    if _torch_net(model) is not None:
        return ["onnx", "torchscript"]
    from faultlab.serving.classical_onnx import is_feature_model

    if is_feature_model(model) and importlib.util.find_spec("skl2onnx") is not None:
        return ["onnx"]
    return []


def _sample(model: Any, n: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *model.input_shape)).astype(np.float32)


def _max_diff(ref: dict[str, np.ndarray], got: list[np.ndarray], tasks: list[str]) -> float:
    return float(max(np.abs(np.asarray(g) - ref[t]).max() for t, g in zip(tasks, got)))


def _parity(ref: dict[str, np.ndarray], got: list[np.ndarray], tasks: list[str]) -> float:
    """Largest probability difference; raises when it is over TOLERANCE or a label differs.

    Labels must match wherever the model's top two classes are more than TOLERANCE apart
    (an exact tie may break either way under float rounding).
    """
    diff = _max_diff(ref, got, tasks)
    if diff > TOLERANCE:
        raise ExportError(f"outputs differ from predict_proba by {diff:.2e} (> {TOLERANCE:g})")
    for task, g in zip(tasks, got):
        r = ref[task]
        top2 = np.sort(r, axis=1)[:, -2:] if r.shape[1] > 1 else np.c_[r * 0, r]
        clear = (top2[:, 1] - top2[:, 0]) > TOLERANCE
        bad = clear & (np.asarray(g).argmax(1) != r.argmax(1))
        if bad.any():
            raise ExportError(
                f"task {task}: {int(bad.sum())} window label(s) differ from predict_proba"
            )
    return diff


def _onnx_legacy(module, example, path: Path, names: dict[str, list[str]]) -> None:
    import torch

    dyn = {n: {0: "batch"} for n in names["inputs"] + names["outputs"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=names["inputs"],
            output_names=names["outputs"],
            dynamic_axes=dyn,
        )


def _onnx_dynamo(module, example, path: Path, names: dict[str, list[str]]) -> None:
    import torch

    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            opset_version=max(OPSET, 18),
            input_names=names["inputs"],
            output_names=names["outputs"],
            dynamic_shapes=({0: batch},),
            external_data=False,
        )
    if prog is None:  # only the legacy exporter (dynamo=False) returns nothing
        raise ExportError("torch.onnx.export(dynamo=True) returned no program")
    prog.save(str(path))


#: ONNX exporters in the order ``auto`` tries them.
ONNX_EXPORTERS: dict[str, Callable[..., None]] = {"legacy": _onnx_legacy, "dynamo": _onnx_dynamo}


def _run_onnx(path: Path, X: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # the graphs written here have dense tensor outputs only (no sparse/sequence/map)
    return cast(list[np.ndarray], sess.run(None, {sess.get_inputs()[0].name: X}))


def export_onnx(
    model: Any, path: Path, tasks: list[str], exporter: str = "auto"
) -> tuple[str, float, list[str]]:
    """Write ``path``; returns (exporter used, max diff to predict_proba, notes).

    ``auto`` tries the TorchScript-based exporter first (fast, and it handles every model
    here, LSTM/GRU included, at opset 17), then the dynamo exporter when onnxscript is
    installed. In torch 2.13 the dynamo exporter fails on a task named ``class`` (a Python
    keyword as a ModuleDict key breaks FX code generation), the default flat target.
    """
    import torch

    if _torch_net(model) is None:
        return _export_sklearn_onnx(model, path, tasks)
    module = _proba_module(model)
    names = {"inputs": ["windows"], "outputs": [f"proba_{t}" for t in tasks]}
    example = torch.from_numpy(_sample(model, 2))
    X = _sample(model, 8, seed=1)  # a different batch size than the trace: checks the dynamic axis
    ref = model.predict_proba(X)
    notes: list[str] = []
    if exporter != "auto" and exporter not in ONNX_EXPORTERS:
        raise ExportError(
            f"unknown ONNX exporter {exporter!r}; choose from {['auto', *ONNX_EXPORTERS]}"
        )
    exporters = [(k, f) for k, f in ONNX_EXPORTERS.items() if exporter in ("auto", k)]
    if exporter == "auto" and importlib.util.find_spec("onnxscript") is None:
        exporters = [e for e in exporters if e[0] != "dynamo"]
    elif exporter == "dynamo" and importlib.util.find_spec("onnxscript") is None:
        raise ExportError("the dynamo ONNX exporter needs onnxscript (pip install onnxscript)")
    last = ""
    for label, fn in exporters:
        label = f"torch.onnx {label}"
        try:
            with atomic_path(path) as tmp:  # renamed over ``path`` only when verified
                fn(module, example, tmp, names)
                check = lambda p: _parity(ref, _run_onnx(p, X), tasks)  # noqa: E731
                check(tmp)  # the exporter's own graph
                notes += _lift_convolutions(tmp, check)
                diff = check(tmp)  # the graph written
        except Exception as exc:  # an exporter that cannot handle this graph: try the next
            msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc).splitlines()[0]) if str(exc) else ""
            last = f"{label}: {exc.__class__.__name__}: {msg}"
            notes.append(f"{last}; falling back")
            continue
        return label, diff, notes
    raise ExportError(f"model {model.name!r}: ONNX export failed ({last})")


def _lift_convolutions(path: Path, check: Callable[[Path], float]) -> list[str]:
    """Rewrite 1-D Conv/Pool nodes as 2-D (ONNX Runtime's faster NCHWc kernels), then fold the
    input normalisation into the first Conv (see :mod:`faultlab.serving.onnx_passes`); each
    rewrite is kept only when ``check`` passes on its result."""
    from faultlab.serving.onnx_passes import conv1d_as_conv2d, fold_input_norm

    notes = _graph_pass(
        path,
        check,
        conv1d_as_conv2d,
        lambda n: f"{n} 1-D conv/pool nodes run as 2-D (ONNX Runtime's NCHWc kernels)",
        "1-D convolutions left as they are",
    )
    return notes + _graph_pass(
        path,
        check,
        fold_input_norm,
        lambda _: "input normalisation folded into the first convolution",
        "input normalisation left as it is",
    )


def _graph_pass(
    path: Path,
    check: Callable[[Path], float],
    rewrite: Callable[[Any], tuple[Any, Any]],
    done: Callable[[Any], str],
    kept: str,
) -> list[str]:
    """Apply ``rewrite`` (model -> (model, count or flag)) to the file at ``path`` in place
    when it changes something and ``check`` passes on the result; a note either way."""
    import onnx

    rewritten = path.with_name(path.name + ".rewritten")
    try:
        model, count = rewrite(onnx.load(str(path)))
        if not count:
            return []
        onnx.save(model, str(rewritten))
        check(rewritten)
        rewritten.replace(path)
    except Exception as exc:  # the graph before is verified already: keep it
        return [f"{kept} ({type(exc).__name__}: {exc})"]
    finally:
        rewritten.unlink(missing_ok=True)
    return [done(count)]


def _export_sklearn_onnx(model: Any, path: Path, tasks: list[str]) -> tuple[str, float, list[str]]:
    """Feature models: the classifier as an ONNX graph over features, the front end beside it.

    The check runs the exported files as a deployment would (front end rebuilt from the
    metadata description, classifier through ONNX Runtime) against ``predict_proba``.
    """
    from faultlab.serving.classical_onnx import (
        FRONTEND_FILE,
        FrontEnd,
        frontend_spec,
        head_graph,
        sample_windows,
        uses_skl2onnx,
    )

    if "onnx" not in supported_formats(model):
        raise ExportError(_unsupported(model, "onnx"))
    spec, arrays = frontend_spec(model)
    onx = head_graph(model, int(spec["n_features"]))
    X = sample_windows(model)
    ref = model.predict_proba(X)
    npz = path.parent / FRONTEND_FILE
    if arrays:
        with atomic_path(npz) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
    with atomic_path(path) as tmp:  # renamed over ``path`` only when verified
        tmp.write_bytes(onx.SerializeToString())
        front = FrontEnd(spec, path.parent, threads=1)
        diff = _parity(ref, _run_onnx(tmp, front(X)), tasks)
    heads = sorted({type(p[-1]).__name__ for p in model.pipelines.values()})
    label = (
        "skl2onnx" if any(uses_skl2onnx(p[-1]) for p in model.pipelines.values()) else "onnx.helper"
    )
    notes = [
        f"front end ({spec['kind']}) runs in numpy/numba before the ONNX graph "
        f"(input 'features' [batch, {spec['n_features']}]); classifier {', '.join(heads)}"
    ]
    return label, diff, notes


def export_torchscript(
    model: Any, path: Path, tasks: list[str], **_: Any
) -> tuple[str, float, list[str]]:
    import torch

    if _torch_net(model) is None:
        raise ExportError(
            f"model {model.name!r} ({model.family}) is not a torch model: TorchScript export "
            f"is for deep models; formats it supports: {supported_formats(model) or 'none'}"
        )
    module = _proba_module(model)
    example = torch.from_numpy(_sample(model, 2))
    X = _sample(model, 8, seed=1)
    with warnings.catch_warnings():  # torch 2.13 marks torch.jit deprecated; it still works
        warnings.simplefilter("ignore")
        traced = torch.jit.freeze(torch.jit.trace(module, (example,), check_trace=False))
        with torch.no_grad():
            got = [o.numpy() for o in traced(torch.from_numpy(X))]
        diff = _max_diff(model.predict_proba(X), got, tasks)
        if diff > TOLERANCE:
            raise ExportError(
                f"model {model.name!r}: traced TorchScript differs from the model by {diff:.2e}"
            )
        with atomic_path(path) as tmp:
            torch.jit.save(traced, str(tmp))
    return "torch.jit.trace + freeze", diff, []


#: Format -> exporter(model, path, tasks, **options) -> (exporter label, max diff, notes).
EXPORTERS: dict[str, Callable[..., tuple[str, float, list[str]]]] = {
    "onnx": export_onnx,
    "torchscript": export_torchscript,
}


def export_run(
    run_dir: str | Path, fmt: str, out_dir: str | Path | None = None, onnx_exporter: str = "auto"
) -> ExportResult:
    """Export the model of ``run_dir`` to ``out_dir`` (default ``run_dir/export``)."""
    from faultlab.models.base import load_model

    run_dir = Path(run_dir)
    fmt = fmt.lower()
    if fmt not in EXPORTERS:
        raise ExportError(f"unknown export format {fmt!r}; choose from {sorted(EXPORTERS)}")
    out = Path(out_dir) if out_dir else run_dir / "export"
    pre = Preprocessing.from_run(run_dir)
    model_json = run_dir / MODEL_DIR / MODEL_JSON
    model = load_model(run_dir / "model")
    if fmt not in supported_formats(model):
        raise ExportError(_unsupported(model, fmt))
    tasks = list(model.classes)
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAMES[fmt]
    options = {"exporter": onnx_exporter} if fmt == "onnx" else {}
    exporter, diff, notes = EXPORTERS[fmt](model, path, tasks, **options)
    meta = model_metadata(run_dir, pre, json.loads(model_json.read_text()))
    entry: dict[str, Any] = {
        "file": path.name,
        "exporter": exporter,
        "opset": _onnx_opset(path) if fmt == "onnx" else None,
        "max_abs_diff_vs_model": diff,
        "notes": notes,
        "torch_version": _version("torch"),
        "onnxruntime_version": _version("onnxruntime") if fmt == "onnx" else None,
    }
    if fmt == "onnx" and _torch_net(model) is None:
        from faultlab.serving.classical_onnx import frontend_spec

        spec = frontend_spec(model)[0]
        entry["frontend"] = spec
        entry["graph_input"] = {
            "name": "features",
            "shape": ["batch", spec["n_features"]],
            "dtype": "float32",
        }
    # one metadata.json per folder: exporting the other format adds to it, for the same run
    meta_path = out / METADATA_FILE
    old = _read_json(meta_path)
    exports = (
        old.get("exports", {}) if old.get("model_fingerprint") == meta["model_fingerprint"] else {}
    )
    meta["exports"] = {**exports, fmt: entry}
    write_json(meta_path, meta)
    return ExportResult(fmt, path, meta_path, exporter, diff, notes)


def _unsupported(model: Any, fmt: str) -> str:
    formats = supported_formats(model)
    why = ""
    from faultlab.serving.classical_onnx import is_feature_model

    if fmt == "onnx" and is_feature_model(model) and "onnx" not in formats:
        why = " (ONNX of a feature model needs skl2onnx: pip install 'faultlab[serve]')"
    elif fmt == "onnx" and _torch_net(model) is None:
        why = " (it is neither a torch network nor a fitted feature model)"
    elif _torch_net(model) is None:
        why = " (it is not a torch network; TorchScript is for deep models)"
    return (
        f"model {model.name!r} ({model.family}) cannot be exported as {fmt}{why}; formats it "
        f"supports: {', '.join(formats) or 'none'}; it can still be used natively "
        "(`faultlab predict`, `faultlab serve RUN_DIR --backend native`)"
    )


def _onnx_opset(path: Path) -> int | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None
