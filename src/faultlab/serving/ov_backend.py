"""OpenVINO on a deep model's exported ONNX graph (``predict``/``serve --backend openvino``).

Optional (``pip install 'faultlab[openvino]'``). The CPU plugin compiles the same graph
ONNX Runtime runs (oneDNN JIT kernels), one single-threaded copy per thread; batches run as
chunks on those streams like the ``onnx`` backend (:class:`faultlab.serving.streams.Streams`).

The precision is forced to f32: on CPUs with bf16 or fp16 units OpenVINO's default
``INFERENCE_PRECISION_HINT`` would compute in 16 bits, which is not the exported model;
the compiled model's precision is read back and anything else is refused.
"""

from __future__ import annotations

import importlib.util
import queue
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.errors import ConfigError
from faultlab.serving.streams import CHUNK, Streams, usable_cpus


def check_available(where: Any = "openvino backend") -> None:
    if importlib.util.find_spec("openvino") is None:
        raise ConfigError(
            f"{where}: the openvino backend needs OpenVINO (pip install 'faultlab[openvino]')"
        )


def compile_config() -> dict[str, Any]:
    """One single-threaded stream that runs in the calling thread, f32 arithmetic, no core
    pinning (a shared machine's other processes move threads around; pinned ones wait).

    Measured on cnn1d, 2 threads, batch 8,192 in chunks of 128, interleaved, min CPU time
    per window over 12 rounds (shared 2-core machine, load ~4.5): two such models called
    from two threads 10.9 us (0.51 ms for a first window); one THROUGHPUT model with two
    streams 11.4 us (1.0 ms: every call is handed to a stream thread); the same through
    ``AsyncInferQueue`` 12.0 us; ONNX Runtime on the same graph and streams 8.7 us.
    """
    return {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": "1",
        "INFERENCE_NUM_THREADS": "1",
        "INFERENCE_PRECISION_HINT": "f32",
        "ENABLE_CPU_PINNING": "NO",
    }


class OpenVinoBackend:
    """OpenVINO's CPU plugin on an exported ONNX graph: ``threads`` single-threaded compiled
    copies, one per stream of :class:`~faultlab.serving.streams.Streams`."""

    name = "openvino"

    def __init__(
        self, model_path: Path, tasks: list[str], threads: int | None = 2, chunk: int = CHUNK
    ) -> None:
        check_available(model_path)
        import openvino as ov

        streams = int(threads or usable_cpus())
        core = ov.Core()
        try:
            graph = core.read_model(str(model_path))
            compiled = [core.compile_model(graph, "CPU", compile_config()) for _ in range(streams)]
        except RuntimeError as exc:  # an operator or shape OpenVINO does not take
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"{model_path}: OpenVINO cannot compile this graph ({first})"
            ) from None
        for c in compiled:  # read back: a 16-bit default would not be the exported model
            precision = c.get_property("INFERENCE_PRECISION_HINT")
            if precision != ov.Type.f32:
                raise ConfigError(f"{model_path}: OpenVINO compiled it in {precision}, not f32")
        self.precision = "f32"
        self.compiled = compiled[0]
        self.tasks = list(tasks)
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        for c in compiled:
            self._requests.put(c.create_infer_request())
        self.run = Streams(self._run_graph, streams, chunk)
        # one call before any concurrent ones: the binding's first numpy conversion sets up
        # a static under the GIL, and two threads doing it at once deadlock (pybind11)
        shape = [1, *(d.get_length() for d in self.compiled.inputs[0].get_partial_shape()[1:])]
        self._run_graph(np.zeros(shape, np.float32))

    def _run_graph(self, X: np.ndarray) -> list[np.ndarray]:
        req = self._requests.get()  # one request per concurrent caller (they hold buffers)
        try:
            out = req.infer({0: X}, share_inputs=True)  # copies of the outputs, in order
            return [np.asarray(o) for o in out.to_tuple()]
        finally:
            self._requests.put(req)

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        X = np.ascontiguousarray(X, np.float32)
        return dict(zip(self.tasks, self.run(X)))
