"""``benchmarks/inference_latency.py``: rows carry the issue's fields; the GPU path runs on CPU."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "inference_latency.py"

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("inference_latency", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _main(bench, monkeypatch, *argv: str) -> None:
    """``python benchmarks/inference_latency.py ARGV`` in this process (no second torch
    start-up), without the shared data (random windows) and with this process's threads
    restored afterwards."""
    import torch

    monkeypatch.setenv("FAULTLAB_DATA_DIR", "/nonexistent")
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *argv])
    threads = torch.get_num_threads()
    try:
        bench.main()
    finally:
        torch.set_num_threads(threads)


def test_cpu_rows_have_the_issue_fields(bench, tmp_path, monkeypatch):
    out = tmp_path / "rows.json"
    argv = ["--models", "mlp", "--runs", str(tmp_path / "none"), "--seconds", "0.01"]
    _main(bench, monkeypatch, *argv, "--batches", "8,32", "--threads", "1", "--json", str(out))
    doc = json.loads(out.read_text())
    assert doc["load_avg_start"] and "load_avg_end" in doc
    rows = {r["backend"]: r for r in doc["rows"]}
    assert {"torch", "onnx"} <= set(rows) <= {"torch", "onnx", "openvino"}
    for r in rows.values():
        for key in (
            "model",
            "backend",
            "ms_batch1",
            "windows_per_s_batched",
            "macs_per_window",
            "end_to_end_ms_per_second_of_signal",
            "load_avg_1min",
            "cpu_us_per_window_batched",
            "fraction_of_peak_sgemm",
        ):
            assert r[key] is not None, key
        assert r["windows_per_s_batched"] > 0 and r["macs_per_window"] > 0


def test_cuda_without_a_gpu_is_one_error_line(bench, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    with pytest.raises(SystemExit) as exit_:
        _main(bench, monkeypatch, "--device", "cuda", "--models", "cnn1d")
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().startswith("error: --device cuda") and "\n" not in err.strip()


def test_gpu_rows_run_on_the_cpu(bench, tmp_path, request):
    """The GPU code path (autocast variants, numpy and device-resident timing) on ``cpu``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two OpenMP threads stall for a time slice on a busy machine
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    args = argparse.Namespace(cuda_batches="4,8", compile="", seconds=0.01)
    X = bench.real_windows(8)
    run = bench.fresh_run("cnn1d", tmp_path)
    rows = bench.gpu_rows("cnn1d", run, X, bench.one_second(run), args, dev="cpu")
    assert [r["backend"] for r in rows] == ["cpu-fp32", "cpu-bf16", "cpu-fp16"]
    for r in rows:
        assert "error" not in r, r
        assert r["windows_per_s_device_resident"] > 0 and r["macs_per_window"] > 0
    assert rows[0]["end_to_end_ms_per_second_of_signal"] > 0
