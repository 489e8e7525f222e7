"""Inference latency and throughput per (model, backend), from prepared windows and end to end.

For every model: batch-1 latency (``ms_batch1``, best call), batched throughput
(``windows_per_s_batched``, best of the batch sizes tried, best of several timed blocks), the
process CPU time per window at that batch (``cpu_us_per_window_batched``: all threads; on a
shared machine the load-robust figure, a quiet one with N threads approaches N / it), and
one second of 12 kHz signal from raw samples to verdict through ``Predictor.predict_signal``
(windowing, normalisation, front end, model: ``end_to_end_ms_per_second_of_signal``).
Feature models also get ``stages``: the numpy front end and the ONNX classifier timed apart.
Deep models also get their multiply-adds per window (forward hooks on Conv1d, Linear, LSTM,
GRU and attention), the achieved MAC/s and its fraction of the best plain sgemm measured
(``torch.mm``: 512^3, 1024^3 and the model's largest layer as one matrix product), and for a
model with a target (cnn1d: 150,000 windows/s) the MAC rate that target needs;
``--int8`` models get a statically quantised ONNX graph (QDQ, per channel, calibrated on
training windows) and its accuracy against fp32 on the run's test windows.

Backends (``--backends``): deep models ``torch`` (eager), ``onnx`` (ONNX Runtime: the
exported graph, as ``--threads`` single-threaded streams over chunks of 128 windows, see
``faultlab.serving.streams``; ``onnx-int8``) and ``openvino`` (the same graph through
OpenVINO in f32, when installed: ``pip install 'faultlab[openvino]'``); classical models
``native`` (the scikit-learn pipeline) and ``onnx`` (numpy front end + ONNX Runtime
classifier). ``--ort-settings`` adds the choices behind the ``onnx`` path to the int8 row
(one call on 1/N intra-op threads, spinning on/off, vs streams over chunks of 32-512). Weights do not change a deep model's cost, so deep models without a
trained run are built fresh; classical models need a trained run (``--runs DIR``, default
``runs/bench``, holding ``DIR/<model>/<fold>/model``; ``--train-missing`` trains them first
with a quick CWRU config, about 3 minutes on 2 cores).

``--device cuda`` times the deep models on a GPU instead: torch eager in fp32 and under bf16 /
fp16 autocast, ``torch.compile(mode="reduce-overhead")`` (CUDA graphs) in bf16 for the
``--compile`` models, and ONNX Runtime's CUDA provider when onnxruntime-gpu is installed;
numpy in -> probabilities out (copies included) and with the windows already on the device.

The machine is shared: ``os.getloadavg()`` is recorded with every row; figures taken under
load are pessimistic (best-of-repeats reduces, but does not remove, the effect).

Run: FAULTLAB_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/inference_latency.py \
       --all --train-missing --json runs/inference.json         # CPU, 2 threads
     ... --all --device cuda --json runs/inference-cuda.json     # GPU, deep models
     ... --models cnn1d,rf --seconds 0.1                         # a quick look
     ... --models cnn1d --backends onnx,openvino --batches 1024,8192 --seconds 1  # the target
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

RATE = 12000.0
#: Batched fp32 targets (issue 17, 2 threads): the MAC rate they need is printed beside sgemm's.
TARGET_WINDOWS_PER_S = {"cnn1d": 150_000}
CLASSES = {
    "class": ["normal"]
    + [f"{loc}_{s}" for loc in ("IR", "B", "OR") for s in ("0.007", "0.014", "0.021")]
}


def best_seconds(
    fn: Callable[[], object], budget_s: float, blocks: int = 3, sync: Callable[[], object] = None
) -> tuple[float, float]:
    """(fastest call, best block median) in seconds, over up to ``blocks`` blocks of ``budget_s``.

    A block runs at least one call; once a single call outlasts the budget the remaining blocks
    are skipped (slow models stay fast to benchmark). ``sync`` waits for queued GPU work.
    """
    sync = sync or (lambda: None)
    for _ in range(2):  # warm-up: lazy initialisation, allocator, kernel choice
        t0 = time.perf_counter()
        fn()
        sync()
        if time.perf_counter() - t0 > budget_s:
            break
    fastest, medians = float("inf"), []
    for _ in range(blocks):
        times, end = [], time.perf_counter() + budget_s
        while not times or (time.perf_counter() < end and len(times) < 5000):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        fastest = min(fastest, min(times))
        medians.append(float(np.median(times)))
        if min(times) > budget_s:
            break
    return fastest, min(medians)


def cpu_seconds(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Process CPU seconds per call (all threads), the least of ``repeats`` blocks of
    ``calls``: more robust to other people's load than wall time (not immune: a busy
    machine's cache misses and a VM's stolen time are charged to the process too)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - t0) / calls)
    return best


def load() -> float:
    return round(os.getloadavg()[0], 2)


def real_windows(n: int) -> np.ndarray:
    from faultlab.data.paths import dataset_dir
    from faultlab.serving.preprocess import Preprocessing, prepare_file

    path = dataset_dir("cwru") / "108.mat"
    if path.exists():
        pre = Preprocessing.from_dict(
            {"channels": ["DE"], "window": 1024, "stride": 256, "target_rate": RATE}
        )
        X = prepare_file(pre, path).X
        return np.ascontiguousarray(np.resize(X, (n, *X.shape[1:])))
    print(f"(no {path}: random windows)")
    return np.random.default_rng(0).normal(0, 0.3, (n, 1, 1024)).astype(np.float32)


def one_second(run_dir: Path) -> np.ndarray:
    """One second of drive-end signal at 12 kHz (108.mat when present, else noise)."""
    from faultlab.data.paths import dataset_dir
    from faultlab.serving.preprocess import load_input

    path = dataset_dir("cwru") / "108.mat"
    if path.exists():
        return load_input(path, ["DE"]).signal[:, : int(RATE)]
    return np.random.default_rng(1).normal(0, 0.3, (1, int(RATE))).astype(np.float32)


# -- multiply-adds and the sgemm reference ---------------------------------------------------------
def count_macs(net, x) -> tuple[int, tuple[int, int, int]]:
    """Multiply-adds of one forward pass of ``x`` (batch 1) and the largest layer as (M, K, N)."""
    import torch
    from torch import nn

    total, largest = [0], [(0, (0, 0, 0))]

    def hook(mod, inp, out):
        x0 = inp[0]
        if isinstance(mod, nn.Conv1d):
            L_out = out.shape[-1]
            K = mod.in_channels // mod.groups * mod.kernel_size[0]
            m, mkn = K * mod.out_channels * L_out, (L_out, K, mod.out_channels)
        elif isinstance(mod, nn.Linear):
            rows = int(np.prod(x0.shape[1:-1])) if x0.dim() > 2 else 1
            m, mkn = (
                rows * mod.in_features * mod.out_features,
                (rows, mod.in_features, mod.out_features),
            )
        elif isinstance(mod, nn.LSTM | nn.GRU):
            gates = 4 if isinstance(mod, nn.LSTM) else 3
            T = x0.shape[1] if mod.batch_first else x0.shape[0]
            dirs = 2 if mod.bidirectional else 1
            H, m = mod.hidden_size, 0
            for layer in range(mod.num_layers):
                In = mod.input_size if layer == 0 else H * dirs
                m += dirs * T * gates * H * (In + H)
            mkn = (T, mod.input_size + H, gates * H)
        elif isinstance(mod, nn.MultiheadAttention):
            T, E = x0.shape[1] if mod.batch_first else x0.shape[0], mod.embed_dim
            m, mkn = 4 * T * E * E + 2 * T * T * E, (T, E, 3 * E)
        else:
            return
        total[0] += int(m)
        if m > largest[0][0]:
            largest[0] = (int(m), mkn)

    kinds = (nn.Conv1d, nn.Linear, nn.LSTM, nn.GRU, nn.MultiheadAttention)
    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        net(torch.from_numpy(x[:1]))
    for h in hooks:
        h.remove()
    return total[0], largest[0][1]


@functools.cache
def sgemm_macs_per_s(M: int, K: int, N: int, budget_s: float) -> float:
    """MAC/s of ``torch.mm`` on [M, K] x [K, N] float32 (torch's threads: --threads)."""
    import torch

    a, b = torch.randn(M, K), torch.randn(K, N)
    fastest, _ = best_seconds(lambda: torch.mm(a, b), budget_s)
    return M * K * N / fastest


# -- runs and backends -----------------------------------------------------------------------------
def find_run(runs: Path | None, name: str) -> Path | None:
    if runs is None:
        return None
    found = sorted((runs / name).glob("*/model/model.json"))
    return found[0].parent.parent if found else None


def fresh_run(name: str, root: Path) -> Path:
    """A run directory with an untrained deep model (the cost does not depend on weights)."""
    from faultlab.models.base import build_model
    from faultlab.utils.io import write_json

    run = root / f"fresh-{name}"
    model = build_model(name, CLASSES, (1, 1024))
    if hasattr(model, "net") and hasattr(model.net, "norm"):
        model.net.norm.fit(real_windows(64), "global")
    model.save(run / "model")
    write_json(
        run / "preprocess.json",
        {
            "dataset": "cwru",
            "channels": ["DE"],
            "sampling_rate": RATE,
            "target_rate": RATE,
            "window": 1024,
            "stride": 1024,
            "normalise": "none",
            "standardiser": None,
            "target": "flat",
            "classes": CLASSES,
            "feature_names": None,
        },
    )
    return run


def batched(
    fn: Callable[[np.ndarray], object], X: np.ndarray, sizes: tuple[int, ...], budget_s: float, **kw
) -> tuple[float, int]:
    """Best windows/s over the batch sizes (best block median per size) and that size.

    Larger sizes are skipped once one call takes longer than the budget (a slow model).
    """
    best = (0.0, 0)
    for b in sizes:
        xb = X[:b]
        _, med = best_seconds(lambda xb=xb: fn(xb), budget_s, **kw)
        best = max(best, (b / med, b))
        if med > budget_s:
            break
    return best


def measure(
    model: str,
    backend: str,
    predictor,
    X: np.ndarray,
    signal: np.ndarray,
    budget_s: float,
    sizes: tuple[int, ...],
) -> dict:
    """One row: batch 1, batched, end to end (predictor.backend is what is timed)."""
    fn = predictor.backend.predict_proba
    fast1, med1 = best_seconds(lambda: fn(X[:1]), budget_s)
    wps, size = batched(fn, X, sizes, budget_s)
    calls = max(1, min(20, round(0.3 * wps / size)))
    cpu = cpu_seconds(lambda: fn(X[:size]), calls) / size
    e2e_fast, e2e_med = best_seconds(lambda: predictor.predict_signal(signal, RATE), budget_s)
    row = {
        "model": model,
        "backend": backend,
        "ms_batch1": round(1000 * fast1, 4),
        "ms_batch1_median": round(1000 * med1, 4),
        "windows_per_s_batched": round(wps),
        "batch": size,
        # CPU seconds of all the process's threads per window: on a quiet machine with N
        # threads, windows/s approaches N / cpu_s; under load it stays meaningful
        "cpu_us_per_window_batched": round(1e6 * cpu, 2),
        "end_to_end_ms_per_second_of_signal": round(1000 * e2e_fast, 3),
        "end_to_end_ms_median": round(1000 * e2e_med, 3),
        "load_avg_1min": load(),
    }
    frontend = getattr(predictor.backend, "frontend", None)
    if frontend is not None:
        row["stages"] = stages(predictor.backend, X[:size], budget_s)
    return row


def stages(backend, X: np.ndarray, budget_s: float) -> dict:
    """Where a feature model's batched time goes: numpy front end vs the classifier graph."""
    F = backend.frontend(X)
    sess, names, inp = backend.session, backend.output_names, backend.input_name
    _, fe = best_seconds(lambda: backend.frontend(X), budget_s, blocks=2)
    _, clf = best_seconds(lambda: sess.run(names, {inp: F}), budget_s, blocks=2)
    n = len(X)
    return {
        "frontend_windows_per_s": round(n / fe),
        "classifier_windows_per_s": round(n / clf),
        "frontend_cpu_us_per_window": round(
            1e6 * cpu_seconds(lambda: backend.frontend(X), 3) / n, 2
        ),
        "classifier_cpu_us_per_window": round(
            1e6 * cpu_seconds(lambda: sess.run(names, {inp: F}), 3) / n, 2
        ),
        "n_features": int(F.shape[1]),
    }


def backends_for(name: str, run: Path, deep: bool, threads: int, only: set[str]):
    """(backend name, Predictor) pairs; a backend the model has none of is reported, skipped."""
    from faultlab.errors import FaultlabError
    from faultlab.serving.predict import Predictor

    for b in ("torch", "onnx", "openvino") if deep else ("native", "onnx"):
        if b not in only:
            continue
        try:
            yield b, Predictor(run, backend=b, threads=threads)
        except FaultlabError as exc:
            print(f"{name:<11} {b:<10} skipped: {exc}", flush=True)


# -- deep-model extras: arithmetic, ORT settings, int8 ---------------------------------------------
def arithmetic(row: dict, model, X: np.ndarray, budget_s: float) -> None:
    """macs_per_window, achieved MAC/s and fractions of sgemm (layer-shaped and the best).

    The reference ("peak") is the fastest of three plain sgemms (512^3, 1024^3 and the
    model's largest layer as one matrix product) on ``--threads`` threads: the short ones
    slip between other people's jobs, so under load their best call is the truer figure.
    """
    macs, (M, K, N) = count_macs(model.net.eval(), X)
    row["macs_per_window"] = macs
    achieved = macs * row["windows_per_s_batched"]
    layer = sgemm_macs_per_s(M * row["batch"], K, N, budget_s)
    square = {n: sgemm_macs_per_s(n, n, n, budget_s) for n in (512, 1024)}
    peak = max(layer, *square.values())
    row.update(
        {
            "gmacs_per_s": round(achieved / 1e9, 2),
            "largest_layer_gemm": [M * row["batch"], K, N],
            "sgemm_layer_gmacs_per_s": round(layer / 1e9, 2),
            "sgemm_512_gmacs_per_s": round(square[512] / 1e9, 2),
            "sgemm_1024_gmacs_per_s": round(square[1024] / 1e9, 2),
            "sgemm_peak_gmacs_per_s": round(peak / 1e9, 2),
            "fraction_of_layer_sgemm": round(achieved / layer, 3),
            "fraction_of_peak_sgemm": round(achieved / peak, 3),
        }
    )
    target = TARGET_WINDOWS_PER_S.get(row["model"])
    if target:  # what the target asks of the arithmetic units
        row["target_windows_per_s"] = target
        row["target_gmacs_per_s"] = round(macs * target / 1e9, 2)
        row["target_fraction_of_peak_sgemm"] = round(macs * target / peak, 3)


def ort_settings(onnx_path: Path, X: np.ndarray, budget_s: float, threads: int) -> list[dict]:
    """The choices behind the ``onnx`` backend, each as windows/s and CPU time per window on
    the same batch (the largest ``--batches`` size): the whole batch in one call on 1 or
    ``threads`` intra-op threads, spinning on and off (the old path), and ``threads``
    single-threaded streams over chunks of 32-512 windows (``faultlab.serving.streams``)."""
    from faultlab.serving.predict import OnnxBackend, onnx_session

    variants: list[tuple[dict, Callable]] = []
    for t in sorted({1, threads}):
        for spin in ("0", "1"):
            sess = onnx_session(onnx_path, t, spin=spin)
            run = lambda x, s=sess: s.run(None, {"windows": x})  # noqa: E731
            variants.append(({"mode": "one call", "threads": t, "spinning": spin == "1"}, run))
    for chunk in (32, 64, 128, 256, 512):
        backend = OnnxBackend(onnx_path, ["class"], threads, chunk=chunk)
        variants.append(({"mode": "streams", "threads": threads, "chunk": chunk}, backend.run))
    out = []
    for settings, fn in variants:
        _, med = best_seconds(lambda fn=fn: fn(X), budget_s)
        cpu = cpu_seconds(lambda fn=fn: fn(X), max(1, round(0.3 * len(X) / med / len(X))))
        out.append(
            {
                **settings,
                "batch": len(X),
                "windows_per_s": round(len(X) / med),
                "cpu_us_per_window": round(1e6 * cpu / len(X), 2),
                "load_avg_1min": load(),
            }
        )
        print(f"{'':<22} {out[-1]}", flush=True)
    return out


def test_windows(run: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(train X, test X, test y) of the run's own split, rebuilt from its config."""
    import yaml

    from faultlab.experiments.config import ExperimentConfig
    from faultlab.experiments.runner import prepare

    cfg = ExperimentConfig.model_validate(yaml.safe_load((run / "config.yaml").read_text()))
    try:
        windows, splits = prepare(cfg)
    except Exception as exc:  # no data here
        print(f"(int8 accuracy skipped: {exc})")
        return None
    split = splits[0]
    return windows.X[split.train], windows.X[split.test], windows.y["class"][split.test]


def int8_row(
    name: str,
    run: Path,
    fp32: Path,
    X: np.ndarray,
    base: dict,
    threads: int,
    budget_s: float,
    sizes: tuple[int, ...],
) -> dict:
    """Static QDQ int8 (per channel), calibrated on 512 training windows; accuracy vs fp32."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    from faultlab.serving.predict import OnnxBackend

    data = test_windows(run) if (run / "config.yaml").exists() else None
    calib = data[0][:: max(1, len(data[0]) // 512)] if data else X

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"windows": calib[i : i + 64]} for i in range(0, len(calib), 64)])

        def get_next(self):
            return next(self.batches, None)

    q = fp32.parent / "model.int8.onnx"
    quantize_static(str(fp32), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    fn = OnnxBackend(q, ["class"], threads).run  # the onnx backend's path: streams, chunks
    fast1, _ = best_seconds(lambda: fn(X[:1]), budget_s)
    wps, size = batched(fn, X, sizes, budget_s)
    macs = base["macs_per_window"]
    row = {
        "model": name,
        "backend": "onnx-int8",
        "ms_batch1": round(1000 * fast1, 4),
        "windows_per_s_batched": round(wps),
        "batch": size,
        "cpu_us_per_window_batched": round(
            1e6
            * cpu_seconds(lambda: fn(X[:size]), max(1, min(20, round(0.3 * wps / size))))
            / size,
            2,
        ),
        "load_avg_1min": load(),
        "end_to_end_ms_per_second_of_signal": None,
        "macs_per_window": macs,
        "gmacs_per_s": round(macs * wps / 1e9, 2),
        "fraction_of_peak_sgemm_fp32": round(
            macs * wps / (base["sgemm_peak_gmacs_per_s"] * 1e9), 3
        ),
    }
    if data:
        ref = OnnxBackend(fp32, ["class"], threads).run
        acc32 = float((ref(data[1])[0].argmax(1) == data[2]).mean())
        acc8 = float((fn(data[1])[0].argmax(1) == data[2]).mean())
        row.update(
            {
                "test_accuracy_fp32": round(acc32, 4),
                "test_accuracy_int8": round(acc8, 4),
                "test_windows": int(len(data[2])),
            }
        )
    return row


def bench_model(name: str, runs: Path | None, tmp: Path, args, X: np.ndarray) -> list[dict]:
    from faultlab.errors import FaultlabError
    from faultlab.models.base import get_spec

    deep = get_spec(name).family == "deep"
    if args.device == "cuda" and not deep:
        print(f"{name}: --device cuda times deep models only: skipped")
        return []
    try:
        run = find_run(runs, name) or (fresh_run(name, tmp) if deep else None)
    except FaultlabError as exc:  # e.g. a model that needs a front end and no trained run
        print(f"{name}: skipped: {exc} (see --train-missing)")
        return []
    if run is None:
        print(f"{name}: no trained run under --runs {runs}: skipped (see --train-missing)")
        return []
    signal = one_second(run)
    if args.device == "cuda":
        return gpu_rows(name, run, X, signal, args)
    sizes = tuple(int(s) for s in args.batches.split(","))
    rows = []
    only = set(args.backends.split(","))
    for backend, predictor in backends_for(name, run, deep, args.threads, only):
        if predictor.pre.frontend:  # the model reads its front end's output, not raw windows
            X = model_windows(predictor.pre, signal, len(X))
        row = measure(name, backend, predictor, X, signal, args.seconds, sizes)
        row["run"] = str(run)
        if deep:
            model = predictor.backend.model if backend == "torch" else predictor_model(run)
            arithmetic(row, model, X, args.seconds)
        rows.append(row)
        print(fmt(row), flush=True)
        explain(row)
    if deep and name in args.int8.split(",") and rows and "onnx" in only:
        rows += int8_rows(name, run, X, rows[-1], tmp, args, sizes)
    return rows


def model_windows(pre, signal: np.ndarray, n: int) -> np.ndarray:
    """``n`` windows as the run's preprocessing makes them (its window front end included)
    from ``signal`` repeated: what ``predict_proba`` sees for a model with a front end."""
    from faultlab.serving.preprocess import prepare

    stride = max(1, int(pre.stride or pre.window))
    reps = -(-((min(n, 512) - 1) * stride + pre.window) // signal.shape[-1])
    X = prepare(pre, np.tile(signal, (1, reps)), RATE).X
    return np.ascontiguousarray(np.resize(X, (n, *X.shape[1:])))


def int8_rows(name, run, X, base, tmp, args, sizes) -> list[dict]:
    from faultlab.serving.export import export_run

    fp32 = export_run(run, "onnx", tmp / f"{name}-export").model_path
    row = int8_row(name, run, fp32, X, base, args.threads, args.seconds, sizes)
    if args.ort_settings:
        row["ort_settings_fp32"] = ort_settings(fp32, X[: max(sizes)], args.seconds, args.threads)
    print(fmt(row), flush=True)
    explain(row)
    return [row]


def explain(r: dict) -> None:
    """The lines under a row that say where its time goes (stages, arithmetic, target)."""
    st = r.get("stages")
    if st:
        print(
            f"{'':<22} front end {st['frontend_windows_per_s']:,}/s "
            f"({st['frontend_cpu_us_per_window']} us CPU/window), classifier "
            f"{st['classifier_windows_per_s']:,}/s ({st['classifier_cpu_us_per_window']} us), "
            f"{st['n_features']} features; whole: {r['cpu_us_per_window_batched']} us CPU/window"
        )
    if "fraction_of_peak_sgemm" in r:
        print(
            f"{'':<22} {r['gmacs_per_s']} GMAC/s = {r['fraction_of_peak_sgemm']:.3f} of the best "
            f"sgemm ({r['sgemm_peak_gmacs_per_s']} GMAC/s; 512^3 {r['sgemm_512_gmacs_per_s']}, "
            f"1024^3 {r['sgemm_1024_gmacs_per_s']}, layer {r['largest_layer_gemm']} "
            f"{r['sgemm_layer_gmacs_per_s']})"
        )
    if "target_windows_per_s" in r:
        print(
            f"{'':<22} target {r['target_windows_per_s']:,}/s x {r['macs_per_window']:,} MACs = "
            f"{r['target_gmacs_per_s']} GMAC/s = {r['target_fraction_of_peak_sgemm']:.2f} x the "
            "best sgemm measured"
        )
    if "test_accuracy_int8" in r:
        print(
            f"{'':<22} int8 test accuracy {r['test_accuracy_int8']} vs fp32 "
            f"{r['test_accuracy_fp32']} on {r['test_windows']} windows"
        )


#: The quick training config ``--train-missing`` uses for classical runs (CWRU, test load 3).
TRAIN_CONFIG = {
    "name": "bench",
    "data": {
        "dataset": "cwru",
        "select": {
            "fault_end": "DE",
            "sampling_rate_hz": 12000,
            "fault_location": ["IR", "B", "OR@6"],
            "fault_diameter_in": [0.007, 0.014, 0.021],
        },
        "normal": True,
        "channel": "DE",
        "target_rate": 12000,
        "window": 1024,
    },
    "target": "flat",
    "split": {
        "kind": "leave_one_out",
        "column": "load_hp",
        "folds": ["3"],
        "val": {"strategy": "tail", "fraction": 0.15},
    },
    "training": {
        "epochs": 10,
        "batch_size": 64,
        "lr": 0.003,
        "optimizer": "adamw",
        "schedule": "onecycle",
        "patience": None,
        "time_budget_s": 90,
        "num_threads": 1,
        "progress": False,
    },
}


def train_missing(names: list[str], runs: Path) -> None:
    """Train each model without a run under ``runs`` (``faultlab train``, one at a time)."""
    import subprocess

    import yaml

    from faultlab.models.base import get_spec

    cfg = runs / "bench-config.yaml"
    runs.mkdir(parents=True, exist_ok=True)
    cfg.write_text(yaml.safe_dump(TRAIN_CONFIG))
    for name in names:
        deep = get_spec(name).family == "deep"
        # cnn1d: for int8 accuracy; linenet: it needs its front end, so no untrained stand-in
        if find_run(runs, name) or (deep and name not in ("cnn1d", "linenet")):
            continue
        print(f"training {name} -> {runs / name}", flush=True)
        cmd = [sys.executable, "-m", "faultlab", "train", str(cfg), "--model", name]
        if subprocess.run([*cmd, "--out", str(runs / name)]).returncode:
            print(f"{name}: training failed (see above); its rows are skipped", flush=True)


# -- GPU: torch eager / autocast / compiled, ONNX Runtime's CUDA provider when installed ----------
def cuda_gemm_tflops(budget_s: float) -> dict:
    """Dense matmul reference on the GPU (8192^3): fp32 (TF32 as configured), bf16, fp16."""
    import torch

    out = {}
    for label, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a = torch.randn(8192, 8192, device="cuda", dtype=dt)
        fastest, _ = best_seconds(lambda a=a: a @ a, budget_s, sync=torch.cuda.synchronize)
        out[f"gemm_{label}_tflops"] = round(2 * 8192**3 / fastest / 1e12, 1)
    return out


def gpu_variants(net, compile_it: bool, dev: str = "cuda") -> dict[str, Callable]:
    """Label -> forward(tensor) -> {task: logits}, in inference mode (autocast for 16-bit)."""
    import torch

    def make(f, dtype):
        def fwd(x):
            with (
                torch.inference_mode(),
                torch.autocast(dev, dtype=dtype, enabled=dtype is not None),
            ):
                return f(x)

        return fwd

    out = {
        f"{dev}-fp32": make(net, None),
        f"{dev}-bf16": make(net, torch.bfloat16),
        f"{dev}-fp16": make(net, torch.float16),
    }
    if compile_it:  # CUDA graphs + autotuned kernels; one compile per batch size
        out[f"{dev}-compiled-bf16"] = make(
            torch.compile(net, mode="reduce-overhead"), torch.bfloat16
        )
    return out


def gpu_rows(
    name: str, run: Path, X: np.ndarray, signal: np.ndarray, args, dev: str = "cuda"
) -> list[dict]:
    """Deep model ``name`` on the GPU: numpy in -> probabilities out, and device-resident.

    ``dev="cpu"`` runs the same code on the CPU (how the tests check it without a GPU).
    """
    import torch

    from faultlab.serving.predict import Predictor

    predictor = Predictor(run, backend="torch")
    model = predictor.backend.model
    macs, _ = count_macs(model.net.eval(), X)
    model.net.to(dev)
    sync = torch.cuda.synchronize if dev == "cuda" else None
    sizes = tuple(int(s) for s in args.cuda_batches.split(","))
    Xd = torch.from_numpy(X[: max(sizes)]).to(dev)
    rows = []
    for label, fwd in gpu_variants(model.net, name in args.compile.split(","), dev).items():

        def numpy_io(x, fwd=fwd):  # what a caller with numpy windows gets: copies both ways
            out = fwd(torch.from_numpy(x).to(dev, non_blocking=True))
            return {t: torch.softmax(v.float(), 1).cpu().numpy() for t, v in out.items()}

        try:
            fast1, _ = best_seconds(lambda: numpy_io(X[:1]), args.seconds, sync=sync)
            wps, size = batched(numpy_io, X, sizes, args.seconds, sync=sync)
            dev_wps, dev_size = batched(fwd, Xd, sizes, args.seconds, sync=sync)
        except Exception as exc:  # e.g. torch.compile without a working compiler
            rows.append({"model": name, "backend": label, "error": f"{type(exc).__name__}: {exc}"})
            print(f"{name:<11} {label:<10} failed: {rows[-1]['error'][:200]}", flush=True)
            continue
        row = {
            "model": name,
            "backend": label,
            "ms_batch1": round(1000 * fast1, 4),
            "windows_per_s_batched": round(wps),
            "batch": size,
            "windows_per_s_device_resident": round(dev_wps),
            "batch_device_resident": dev_size,
            "macs_per_window": macs,
            "gmacs_per_s_device_resident": round(macs * dev_wps / 1e9, 1),
            "end_to_end_ms_per_second_of_signal": None,
            "load_avg_1min": load(),
        }
        if label == f"{dev}-fp32":  # raw samples -> verdict, the model's own predict_proba on GPU
            e2e, _ = best_seconds(lambda: predictor.predict_signal(signal, RATE), args.seconds)
            row["end_to_end_ms_per_second_of_signal"] = round(1000 * e2e, 3)
        rows.append(row)
        print(fmt(row), flush=True)
    if dev == "cuda":
        rows += onnx_cuda_rows(name, run, X, sizes, args)
        model.net.to("cpu")
        torch.cuda.empty_cache()
    return rows


def onnx_cuda_rows(name: str, run: Path, X: np.ndarray, sizes: tuple[int, ...], args) -> list:
    """ONNX Runtime's CUDA provider (onnxruntime-gpu only; skipped with a note otherwise)."""
    import onnxruntime as ort

    from faultlab.serving.export import export_run

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        print(
            f"{name:<11} onnx-cuda  skipped: onnxruntime has no CUDAExecutionProvider", flush=True
        )
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = export_run(run, "onnx", tmp).model_path
        sess = ort.InferenceSession(str(path), providers=["CUDAExecutionProvider"])
    fn = lambda x: sess.run(None, {"windows": x})  # noqa: E731
    fast1, _ = best_seconds(lambda: fn(X[:1]), args.seconds)
    wps, size = batched(fn, X, sizes, args.seconds)
    row = {
        "model": name,
        "backend": "onnx-cuda",
        "ms_batch1": round(1000 * fast1, 4),
        "windows_per_s_batched": round(wps),
        "batch": size,
        "end_to_end_ms_per_second_of_signal": None,
        "load_avg_1min": load(),
    }
    print(fmt(row), flush=True)
    return [row]


def predictor_model(run: Path):
    from faultlab.models.base import load_model

    return load_model(run / "model")


def fmt(r: dict) -> str:
    macs = f"{r['macs_per_window'] / 1e6:7.2f}M" if r.get("macs_per_window") else " " * 8
    e2e = r.get("end_to_end_ms_per_second_of_signal")
    return (
        f"{r['model']:<11} {r['backend']:<10} {r['ms_batch1']:>8.3f} "
        f"{r['windows_per_s_batched']:>12,} {r['batch']:>6} {macs} "
        f"{'-' if e2e is None else f'{e2e:.2f}':>8} {r['load_avg_1min']:>6}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn1d,rf")
    ap.add_argument("--all", action="store_true", help="every registered model")
    ap.add_argument("--runs", type=Path, default=Path("runs/bench"), help="RUNS/<model>/<fold>/")
    ap.add_argument("--train-missing", action="store_true", help="train classical runs first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.2, help="timing budget per block")
    ap.add_argument("--batches", default="256,1024,4096", help="batch sizes tried (CPU)")
    ap.add_argument("--int8", default="cnn1d", help="deep models also quantised to int8")
    ap.add_argument(
        "--backends",
        default="torch,native,onnx,openvino",
        help="backends timed (openvino: deep models, when installed)",
    )
    ap.add_argument("--ort-settings", action="store_true", help="sweep ORT threads x spinning")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--cuda-batches", default="256,4096,65536", help="batch sizes tried (GPU)")
    ap.add_argument("--compile", default="cnn1d", help="deep models also torch.compiled (GPU)")
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args()

    import torch

    from faultlab.models.base import registry

    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            f"error: --device cuda: torch {torch.__version__} sees no CUDA device", file=sys.stderr
        )
        raise SystemExit(2)
    torch.set_num_threads(args.threads)
    names = sorted(registry()) if args.all else args.models.split(",")
    if args.train_missing:
        train_missing(names, args.runs)
    sizes = args.cuda_batches if args.device == "cuda" else args.batches
    X = real_windows(max(int(s) for s in sizes.split(",")))
    rows, info = [], machine(args)
    print(
        f"{args.device}, threads {args.threads}; load average {os.getloadavg()} on "
        f"{os.cpu_count()} cores (shared machine: figures under load are pessimistic)"
    )
    print(
        f"{'model':<11} {'backend':<10} {'ms b=1':>8} {'windows/s':>12} {'batch':>6} "
        f"{'MACs/win':>8} {'e2e ms':>8} {'load':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="faultlab-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            rows += bench_model(name, args.runs, Path(tmp), args, X)
    info.update(load_avg_end=load(), seconds=round(time.perf_counter() - T0, 1), rows=rows)
    info.update(summary(rows))
    if args.json:
        args.json.write_text(json.dumps(info, indent=1))
        print(f"wrote {len(rows)} rows to {args.json} ({info['seconds']} s)")


def summary(rows: list[dict]) -> dict:
    """The best sgemm of the whole run as one reference for every deep row (a sgemm measured
    while other jobs ran reads low; the best one is the closest to the CPU's real rate)."""
    best = max((r.get("sgemm_peak_gmacs_per_s", 0) for r in rows), default=0)
    if not best:
        return {}
    out = {"sgemm_best_gmacs_per_s": best, "fraction_of_best_sgemm": {}}
    print(f"best sgemm of the run: {best} GMAC/s ({os.cpu_count()} cores)")
    for r in rows:
        if r.get("gmacs_per_s") is not None and r["backend"] != "onnx-int8":
            frac = round(r["gmacs_per_s"] / best, 3)
            out["fraction_of_best_sgemm"][f"{r['model']}/{r['backend']}"] = frac
        if r.get("target_windows_per_s") and r["backend"] in ("onnx", "openvino"):
            need = r["target_gmacs_per_s"] / best
            print(
                f"  {r['model']} target {r['target_windows_per_s']:,} windows/s needs "
                f"{r['target_gmacs_per_s']} GMAC/s = {need:.2f} x that sgemm; {r['backend']} did "
                f"{r['gmacs_per_s']} GMAC/s ({r['windows_per_s_batched']:,} windows/s)"
            )
    return out


def machine(args) -> dict:
    """The run's settings and the machine's state (load average, GPU and its gemm rate)."""
    import torch

    info = {
        "device": args.device,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_avg_start": list(os.getloadavg()),
        "torch": torch.__version__,
        "note": "best of several repeats; wall-clock figures under load are pessimistic, "
        "cpu_us_per_window is the load-robust figure",
    }
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        info.update(
            gpu=torch.cuda.get_device_name(),
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32,
            **cuda_gemm_tflops(args.seconds),
        )
        print({k: v for k, v in info.items() if k.startswith(("gpu", "gemm", "tf32"))})
    return info


T0 = time.perf_counter()

if __name__ == "__main__":
    main()
