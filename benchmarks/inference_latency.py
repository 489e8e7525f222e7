"""Inference latency and throughput per (model, backend), from prepared windows and end to end.

For every model: batch-1 latency (``ms_batch1``, best call), batched throughput
(``windows_per_s_batched``, best of the batch sizes tried, best of several timed blocks), and
one second of 12 kHz signal from raw samples to verdict through ``Predictor.predict_signal``
(windowing, normalisation, front end, model: ``end_to_end_ms_per_second_of_signal``).
Deep models also get their multiply-adds per window (forward hooks on Conv1d, Linear, LSTM,
GRU and attention), the achieved MAC/s and its fraction of what this CPU does on a plain
sgemm (``torch.mm``) of the model's largest layer as one matrix product, and of a 1024^3
square sgemm; ``--int8`` models get a statically quantised ONNX graph (QDQ, per channel,
calibrated on training windows) and its accuracy against fp32 on the run's test windows.

Backends: deep models ``torch`` (eager) and ``onnx`` (ONNX Runtime; ``onnx-int8``);
classical models ``native`` (the scikit-learn pipeline) and ``onnx`` (numpy front end +
ONNX Runtime classifier). Weights do not change a deep model's cost, so deep models without a
trained run are built fresh; classical models need a trained run (``--runs DIR`` holding
``DIR/<model>/<fold>/model``; e.g. ``faultlab train ... --out DIR/<model>``).

The machine is shared: ``os.getloadavg()`` is recorded with every row; figures taken under
load are pessimistic (best-of-repeats reduces, but does not remove, the effect).

Run: FAULTLAB_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/inference_latency.py \
       --all --runs runs/bench --threads 2 --json runs/inference.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

RATE = 12000.0
CLASSES = {
    "class": ["normal"]
    + [f"{loc}_{s}" for loc in ("IR", "B", "OR") for s in ("0.007", "0.014", "0.021")]
}


def best_seconds(fn: Callable[[], object], budget_s: float, blocks: int = 3) -> tuple[float, float]:
    """(fastest call, best block median) in seconds, over ``blocks`` blocks of ``budget_s``."""
    for _ in range(2):
        fn()
    fastest, medians = float("inf"), []
    for _ in range(blocks):
        times, end = [], time.perf_counter() + budget_s
        while len(times) < 3 or (time.perf_counter() < end and len(times) < 5000):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        fastest = min(fastest, min(times))
        medians.append(float(np.median(times)))
    return fastest, min(medians)


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
    fn: Callable[[np.ndarray], object], X: np.ndarray, sizes: tuple[int, ...], budget_s: float
) -> tuple[float, int]:
    """Best windows/s over the batch sizes (best block median per size) and that size."""
    best = (0.0, 0)
    for b in sizes:
        xb = X[:b]
        _, med = best_seconds(lambda xb=xb: fn(xb), budget_s)
        best = max(best, (b / med, b))
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
    e2e_fast, e2e_med = best_seconds(lambda: predictor.predict_signal(signal, RATE), budget_s)
    return {
        "model": model,
        "backend": backend,
        "ms_batch1": round(1000 * fast1, 4),
        "ms_batch1_median": round(1000 * med1, 4),
        "windows_per_s_batched": round(wps),
        "batch": size,
        "end_to_end_ms_per_second_of_signal": round(1000 * e2e_fast, 3),
        "end_to_end_ms_median": round(1000 * e2e_med, 3),
        "load_avg_1min": load(),
    }


def backends_for(run: Path, deep: bool, threads: int) -> dict[str, object]:
    from faultlab.serving.predict import Predictor

    names = ("torch", "onnx") if deep else ("native", "onnx")
    return {b: Predictor(run, backend=b, threads=threads) for b in names}


# -- deep-model extras: arithmetic, ORT settings, int8 ---------------------------------------------
def arithmetic(row: dict, model, X: np.ndarray, budget_s: float) -> None:
    """macs_per_window, achieved MAC/s and fractions of sgemm (layer-shaped and 1024^3)."""
    macs, (M, K, N) = count_macs(model.net.eval(), X)
    row["macs_per_window"] = macs
    achieved = macs * row["windows_per_s_batched"]
    layer = sgemm_macs_per_s(M * row["batch"], K, N, budget_s)
    square = sgemm_macs_per_s(1024, 1024, 1024, budget_s)
    row.update(
        {
            "gmacs_per_s": round(achieved / 1e9, 2),
            "largest_layer_gemm": [M * row["batch"], K, N],
            "sgemm_layer_gmacs_per_s": round(layer / 1e9, 2),
            "sgemm_1024_gmacs_per_s": round(square / 1e9, 2),
            "fraction_of_layer_sgemm": round(achieved / layer, 3),
            "fraction_of_square_sgemm": round(achieved / square, 3),
        }
    )


def ort_settings(onnx_path: Path, X: np.ndarray, budget_s: float) -> list[dict]:
    """windows/s at batch 256 for intra-op threads 1/2 and spinning on/off (the chosen defaults)."""
    from faultlab.serving.predict import onnx_session

    out = []
    for threads in (1, 2):
        for spin in ("0", "1"):
            sess = onnx_session(onnx_path, threads, spin=spin)
            _, med = best_seconds(lambda s=sess: s.run(None, {"windows": X[:256]}), budget_s)
            out.append(
                {
                    "threads": threads,
                    "spinning": spin == "1",
                    "windows_per_s": round(256 / med),
                    "load_avg_1min": load(),
                }
            )
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

    from faultlab.serving.predict import onnx_session

    data = test_windows(run) if (run / "config.yaml").exists() else None
    calib = data[0][:: max(1, len(data[0]) // 512)] if data else X

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"windows": calib[i : i + 64]} for i in range(0, len(calib), 64)])

        def get_next(self):
            return next(self.batches, None)

    q = fp32.parent / "model.int8.onnx"
    quantize_static(str(fp32), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    sess = onnx_session(q, threads)
    fn = lambda x: sess.run(None, {"windows": x})  # noqa: E731
    fast1, _ = best_seconds(lambda: fn(X[:1]), budget_s)
    wps, size = batched(fn, X, sizes, budget_s)
    macs = base["macs_per_window"]
    row = {
        "model": name,
        "backend": "onnx-int8",
        "ms_batch1": round(1000 * fast1, 4),
        "windows_per_s_batched": round(wps),
        "batch": size,
        "load_avg_1min": load(),
        "end_to_end_ms_per_second_of_signal": None,
        "macs_per_window": macs,
        "gmacs_per_s": round(macs * wps / 1e9, 2),
        "fraction_of_square_sgemm_fp32": round(
            macs * wps / (base["sgemm_1024_gmacs_per_s"] * 1e9), 3
        ),
    }
    if data:
        ref = onnx_session(fp32, threads)
        acc32 = float((ref.run(None, {"windows": data[1]})[0].argmax(1) == data[2]).mean())
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
    from faultlab.models.base import get_spec
    from faultlab.serving.export import export_run

    deep = get_spec(name).family == "deep"
    run = find_run(runs, name) or (fresh_run(name, tmp) if deep else None)
    if run is None:
        print(f"{name}: no trained run under --runs: skipped (classical models need one)")
        return []
    signal = one_second(run)
    sizes = tuple(int(s) for s in args.batches.split(","))
    rows = []
    for backend, predictor in backends_for(run, deep, args.threads).items():
        row = measure(name, backend, predictor, X, signal, args.seconds, sizes)
        row["run"] = str(run)
        if deep:
            arithmetic(
                row,
                predictor.backend.model if backend == "torch" else predictor_model(run),
                X,
                args.seconds,
            )
        rows.append(row)
        print(fmt(row), flush=True)
    if deep and name in args.int8.split(","):
        fp32 = export_run(run, "onnx", tmp / f"{name}-export").model_path
        rows.append(int8_row(name, run, fp32, X, rows[-1], args.threads, args.seconds, sizes))
        rows[-1]["ort_settings_fp32"] = ort_settings(fp32, X, args.seconds)
        print(fmt(rows[-1]), flush=True)
    return rows


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
    ap.add_argument("--runs", type=Path, help="trained runs: RUNS/<model>/<fold>/")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5, help="timing budget per block")
    ap.add_argument("--batches", default="256,1024,4096", help="batch sizes tried")
    ap.add_argument("--int8", default="cnn1d", help="deep models also quantised to int8")
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args()

    import torch

    from faultlab.models.base import registry

    torch.set_num_threads(args.threads)
    names = sorted(registry()) if args.all else args.models.split(",")
    X = real_windows(max(int(s) for s in args.batches.split(",")))
    start = load()
    print(
        f"threads {args.threads}; load average {os.getloadavg()} on {os.cpu_count()} cores "
        "(shared machine: figures under load are pessimistic)"
    )
    print(
        f"{'model':<11} {'backend':<10} {'ms b=1':>8} {'windows/s':>12} {'batch':>6} "
        f"{'MACs/win':>8} {'e2e ms':>8} {'load':>6}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="faultlab-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            rows += bench_model(name, args.runs, Path(tmp), args, X)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "threads": args.threads,
                    "cpu_count": os.cpu_count(),
                    "load_avg_start": start,
                    "load_avg_end": load(),
                    "note": "best of several repeats on a shared machine",
                    "rows": rows,
                },
                indent=1,
            )
        )
        print(f"wrote {len(rows)} rows to {args.json}")


if __name__ == "__main__":
    main()
