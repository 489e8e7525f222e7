"""Load test of ``faultlab serve``: 2,000 requests at concurrency 32 to a real uvicorn process.

Starts ``python -m faultlab serve RUN_DIR`` in a subprocess on a free port, waits for
``/health``, then POSTs one second of a real CWRU signal (108.mat, 12 kHz, JSON) ``--requests``
times from ``--concurrency`` httpx clients (bounded by ``--max-seconds``), and prints p50/p90/
p99 latency, requests/s, any non-200 answer and the server's resident memory (VmRSS) before
and after the load, and its peak (VmHWM). ``--token`` runs the server with a bearer token. Without RUN_DIR an untrained cnn1d run is
built in a temporary folder (the cost of a request does not depend on the weights).

Run: FAULTLAB_DATA_DIR=../shared/data python benchmarks/service_load.py [RUN_DIR] [--backend onnx]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from faultlab.serving.loadtest import run_load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_run() -> Path:
    from faultlab.models.base import build_model
    from faultlab.utils.io import write_json

    run = Path(tempfile.mkdtemp(prefix="faultlab-load-")) / "run"
    classes = {
        "class": ["normal"]
        + [f"{loc}_{s}" for loc in ("IR", "B", "OR") for s in ("0.007", "0.014", "0.021")]
    }
    build_model("cnn1d", classes, (1, 1024)).save(run / "model")
    write_json(
        run / "preprocess.json",
        {
            "dataset": "cwru",
            "channels": ["DE"],
            "sampling_rate": 12000.0,
            "target_rate": 12000.0,
            "window": 1024,
            "stride": 1024,
            "normalise": "none",
            "standardiser": None,
            "target": "flat",
            "classes": classes,
        },
    )
    return run


def _memory_mb(pid: int) -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of ``pid`` in MiB (Linux /proc)."""
    out = {"rss": float("nan"), "peak": float("nan")}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                out["peak"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def _signal(seconds: float) -> np.ndarray:
    from faultlab.data.paths import dataset_dir
    from faultlab.serving.preprocess import load_input

    path = dataset_dir("cwru") / "108.mat"
    n = int(seconds * 12000)
    if path.exists():
        return load_input(path, ["DE"]).signal[0, :n]
    return np.random.default_rng(0).normal(0, 0.3, n).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", type=Path)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--token", default=None, help="serve with this bearer token and send it")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--seconds", type=float, default=1.0, help="signal length per request")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--threads", type=int, default=2, help="inference threads of the server")
    args = ap.parse_args()

    run = args.run or _fresh_run()
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "faultlab",
        "serve",
        str(run),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend",
        args.backend,
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ] + (["--token", args.token] if args.token else [])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not answer /health within 120 s")
            time.sleep(0.2)
        sig = _signal(args.seconds)
        body = json.dumps({"samples": sig.tolist(), "sampling_rate": 12000}).encode()
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        first = httpx.post(
            f"{url}/predict",
            content=body,
            headers={"content-type": "application/json", **headers},
            timeout=60,
        ).json()
        print(f"server: {' '.join(cmd[2:])}")
        print(
            f"request: {len(sig)} samples ({len(body) / 1024:.0f} KiB JSON) -> "
            f"{first['n_windows']} windows, verdict "
            f"{ {t: v['prediction'] for t, v in first['prediction'].items()} }"
        )
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        rss_before = _memory_mb(proc.pid)
        res = run_load(
            f"{url}/predict?windows=false",
            body,
            n=args.requests,
            concurrency=args.concurrency,
            max_seconds=args.max_seconds,
            headers=headers,
        )
        rss_after = _memory_mb(proc.pid)
        print(res.line())
        print(
            f"server memory: {rss_before['rss']:.0f} MiB before, {rss_after['rss']:.0f} MiB "
            f"after, peak {rss_after['peak']:.0f} MiB"
        )
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        **res.to_dict(),
                        "rss_before_mib": rss_before["rss"],
                        "rss_after_mib": rss_after["rss"],
                        "rss_peak_mib": rss_after["peak"],
                    },
                    indent=2,
                )
            )
        print(f"statuses: {res.statuses}")
        for e in res.errors:
            print(f"  error: {e}")
        print(
            f"load average after: {os.getloadavg()[0]:.1f} (client and server share these "
            "cores with other workers: pessimistic figures)"
        )
        if res.ok != args.requests:
            raise SystemExit(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
