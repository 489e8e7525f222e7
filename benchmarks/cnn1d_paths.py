"""cnn1d's inference paths side by side, interleaved: where the batched windows/s come from.

Each round times every path once on the same batch (default 8,192 windows), so other
people's load hits them alike; reported per path: the least process CPU time per window
(all threads) and the best wall rate over the rounds. Paths: the exported graph as one call
on ``--threads`` intra-op threads (the path before streams), the ``onnx`` backend (streams
over 128-window chunks, input normalisation folded), the same without the fold, the
``openvino`` backend when installed, static int8 (QDQ per channel, calibrated on training
windows when the run's data is here, else on the benchmark windows) on the same streams,
and torch eager / ``jit.freeze`` + ``optimize_for_inference`` / ``torch.compile`` (inductor).

Run: FAULTLAB_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/cnn1d_paths.py \
       [--run runs/bench/cnn1d/test-load_hp-3] [--rounds 10] [--no-compile]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def unfolded_graph(run: Path, path: Path) -> Path:
    """The exporter's graph with 1-D convolutions lifted but the input normalisation kept."""
    import onnx
    import torch

    from faultlab.models.base import load_model
    from faultlab.serving.export import _onnx_legacy, _proba_module
    from faultlab.serving.onnx_passes import conv1d_as_conv2d

    model = load_model(run / "model")
    example = torch.zeros((2, *model.input_shape))
    names = {"inputs": ["windows"], "outputs": [f"proba_{t}" for t in model.classes]}
    _onnx_legacy(_proba_module(model), example, path, names)
    onnx.save(conv1d_as_conv2d(onnx.load(str(path)))[0], str(path))
    return path


def int8_graph(run: Path, fp32: Path, X: np.ndarray) -> tuple[Path, tuple | None]:
    import inference_latency as il
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    data = il.test_windows(run) if (run / "config.yaml").exists() else None
    calib = data[0][:: max(1, len(data[0]) // 512)] if data else X[:512]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"windows": calib[i : i + 64]} for i in range(0, len(calib), 64)])

        def get_next(self):
            return next(self.batches, None)

    q = fp32.with_name("model.int8.onnx")
    quantize_static(str(fp32), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    return q, data


def torch_paths(run: Path, X: np.ndarray, compile_it: bool) -> dict[str, Callable]:
    import torch

    from faultlab.models.base import load_model

    net = load_model(run / "model").net.eval()

    def wrap(f):
        def call(x):
            with torch.inference_mode():
                return f(torch.from_numpy(x))

        return call

    with torch.no_grad():
        traced = torch.jit.trace(net, torch.from_numpy(X[:64]), strict=False)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    out = {"torch eager": wrap(net), "torch jit.freeze + optimize_for_inference": wrap(frozen)}
    if compile_it:
        out["torch.compile (inductor)"] = wrap(torch.compile(net))
    return out


def paths(run: Path, tmp: Path, X: np.ndarray, threads: int, compile_it: bool) -> dict:
    import importlib.util

    from faultlab.serving.export import export_run
    from faultlab.serving.predict import OnnxBackend, onnx_session

    fp32 = export_run(run, "onnx", tmp / "export").model_path
    plain = unfolded_graph(run, tmp / "unfolded.onnx")
    one_call = onnx_session(fp32, threads)
    out: dict[str, Callable] = {
        f"one call, {threads} intra-op threads": lambda x: one_call.run(None, {"windows": x}),
        "onnx backend (streams, norm folded)": OnnxBackend(fp32, ["class"], threads).run,
        "onnx streams, norm not folded": OnnxBackend(plain, ["class"], threads).run,
    }
    if importlib.util.find_spec("openvino") is not None:
        from faultlab.serving.ov_backend import OpenVinoBackend

        out["openvino backend (f32)"] = OpenVinoBackend(fp32, ["class"], threads).run
    q, data = int8_graph(run, fp32, X)
    out["onnx-int8 (static QDQ) streams"] = OnnxBackend(q, ["class"], threads).run
    if data:
        for label in ("onnx backend (streams, norm folded)", "onnx-int8 (static QDQ) streams"):
            acc = float((out[label](data[1])[0].argmax(1) == data[2]).mean())
            print(f"{label}: test accuracy {acc:.4f} on {len(data[2])} windows")
    return {**out, **torch_paths(run, X, compile_it)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a cnn1d run (default: first under runs/bench)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = ap.parse_args()

    import inference_latency as il
    import torch

    torch.set_num_threads(args.threads)
    X = il.real_windows(args.batch)
    with tempfile.TemporaryDirectory(prefix="faultlab-cnn1d-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = (
            args.run or il.find_run(Path("runs/bench"), "cnn1d") or il.fresh_run("cnn1d", Path(tmp))
        )
        fns = paths(run, Path(tmp), X, args.threads, not args.no_compile)
        best = {k: (float("inf"), 0.0) for k in fns}
        for f in fns.values():
            f(X)
        for _ in range(args.rounds):
            for k, f in fns.items():
                t0, c0 = time.perf_counter(), time.process_time()
                f(X)
                f(X)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                best[k] = (min(best[k][0], cpu / 2 / len(X)), max(best[k][1], 2 * len(X) / wall))
    print(f"{run}: batch {len(X)}, {args.threads} threads, load average {os.getloadavg()}")
    for k, (cpu, wall) in best.items():
        print(
            f"{k:<44} {1e6 * cpu:7.2f} us CPU/window ({args.threads / cpu:>9,.0f}/s on "
            f"{args.threads} quiet cores at best)  best wall {wall:>9,.0f}/s"
        )


if __name__ == "__main__":
    main()
