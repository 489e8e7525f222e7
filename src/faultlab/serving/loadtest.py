"""A bounded HTTP load test of the service (used by the tests and benchmarks/service_load.py).

:func:`background_server` runs uvicorn on 127.0.0.1 on a free port in a thread;
:func:`run_load` sends a fixed number of identical requests from a few concurrent clients
(httpx, one connection each), stopping at a deadline, and reports latency percentiles,
throughput and every non-200 status.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@contextlib.contextmanager
def background_server(app: Any, host: str = "127.0.0.1", startup_s: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread; yields its base URL; stops on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))  # the OS picks a free port; the socket is handed to uvicorn as is
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"uvicorn did not start on {host}:{port} within {startup_s} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class LoadResult:
    requests: int
    completed: int
    ok: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    concurrency: int
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.completed}/{self.requests} requests, {self.ok} ok, concurrency "
            f"{self.concurrency}: {self.requests_per_s:.1f} req/s, p50 {self.p50_ms:.1f} ms, "
            f"p90 {self.p90_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms "
            f"({self.seconds:.1f} s)"
        )


def run_load(
    url: str,
    body: bytes,
    n: int = 1000,
    concurrency: int = 4,
    max_seconds: float = 120.0,
    content_type: str = "application/json",
    timeout_s: float = 30.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """POST ``body`` to ``url`` ``n`` times from ``concurrency`` clients, within ``max_seconds``."""
    import httpx

    latency = np.full(n, np.nan)
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds
    headers = {"content-type": content_type, **(headers or {})}

    def worker(indices: range) -> None:
        with httpx.Client(timeout=timeout_s) as client:
            for i in indices:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = client.post(url, content=body, headers=headers)
                    status = str(r.status_code)
                    if r.status_code != 200 and len(errors) < 5:
                        errors.append(f"{status}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    status = exc.__class__.__name__
                    if len(errors) < 5:
                        errors.append(f"{status}: {exc}")
                latency[i] = time.perf_counter() - t0
                with lock:
                    statuses[status] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, [range(k, n, concurrency) for k in range(concurrency)]))
    seconds = time.perf_counter() - start
    done = latency[np.isfinite(latency)] * 1000
    pct = np.percentile(done, [50, 90, 99]) if done.size else np.full(3, np.nan)
    return LoadResult(
        requests=n,
        completed=int(done.size),
        ok=int(statuses.get("200", 0)),
        seconds=seconds,
        requests_per_s=done.size / seconds if seconds else 0.0,
        p50_ms=float(pct[0]),
        p90_ms=float(pct[1]),
        p99_ms=float(pct[2]),
        max_ms=float(done.max()) if done.size else float("nan"),
        concurrency=concurrency,
        statuses=dict(statuses),
        errors=errors,
    )
