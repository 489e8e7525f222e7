"""Run benchmark runs and tuning workers as Ray tasks (``--executor ray --address ...``).

Why Ray and nothing home-made: a Ray task states its CPU/GPU needs and the cluster
schedules it; ``ray.put`` ships the shared windows once per node; results come back to the
driver with ``ray.get``. Distributed tuning is Ray tasks that each run one Optuna worker on
the same study storage (:func:`faultlab.experiments.tuning.run_worker`), so Optuna's storage
- not this module - decides which trial each worker gets.

``address=None`` starts a local Ray (or joins the cluster named by ``RAY_ADDRESS``);
``"auto"`` joins a cluster started on this machine with ``ray start``; ``ray://host:10001``
uses Ray Client. When faultlab is not installed on the cluster, the package is shipped with
the job (``runtime_env.py_modules``). A run directory written on another node is packed
and unpacked on the driver, so the leaderboard finds every ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from faultlab.contracts import METRICS
from faultlab.errors import ConfigError
from faultlab.experiments.executors import Executor, OnResult, TaskError, register_executor

Log = Callable[[str], None]


def _ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise ConfigError(
            "--executor ray: the 'ray' package is not installed (pip install 'faultlab[ray]')"
        ) from None
    return ray


def runtime_env() -> dict[str, Any]:
    """Ship faultlab's source when it is not an installed distribution; pass the data dir."""
    env: dict[str, Any] = {}
    here = Path(__file__).resolve().parents[1]  # the faultlab package
    if not _installed_as_imported(here):
        env["py_modules"] = [str(here)]
    passed = {
        k: os.environ[k] for k in ("FAULTLAB_DATA_DIR", "FAULTLAB_CACHE_DIR") if k in os.environ
    }
    if passed:
        env["env_vars"] = passed
    return env


def _installed_as_imported(here: Path) -> bool:
    """Whether Ray's workers would import this same faultlab: it is an installed
    distribution, and not an editable install of another checkout than ``here``."""
    import importlib.metadata
    import json

    try:
        dist = importlib.metadata.distribution("faultlab")
    except importlib.metadata.PackageNotFoundError:
        return False
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable") and direct.get("url", "").startswith("file://"):
        return Path(direct["url"][len("file://") :]).resolve() in here.parents
    return True


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail in seconds, with one line, when ``host:port`` does not answer (Ray itself keeps
    retrying for minutes). ``None``/``auto``/``local`` are not network addresses."""
    import socket

    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: expected host:port, ray://host:port or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"--address {address!r}: no Ray cluster answers there ({exc.strerror or exc})"
        ) from None


@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, log: Log | None = None
) -> Iterator[Any]:
    """Connect (or start a local Ray); disconnect afterwards only if we connected."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "runtime_env": runtime_env(),
        "log_to_driver": True,
        "configure_logging": False,
    }
    if address is None and num_cpus is not None and not os.environ.get("RAY_ADDRESS"):
        kwargs["num_cpus"] = num_cpus
    check_reachable(address)
    try:
        ctx = ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"--address {address!r}: cannot connect to Ray ({str(exc).splitlines()[0]})"
        ) from None
    if log:
        res = ray.cluster_resources()
        log(
            f"ray: {getattr(ctx, 'address_info', {}).get('address', address or 'local')} "
            f"({res.get('CPU', 0):g} CPU, {res.get('GPU', 0):g} GPU)"
        )
    try:
        yield ray
    finally:
        ray.shutdown()


def _pack(run_dir: str | None) -> bytes | None:
    if not run_dir or not Path(run_dir).is_dir():
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(run_dir, arcname=".")
    return buf.getvalue()


def _unpack(data: bytes, run_dir: str) -> None:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(run_dir, filter="data")


def _run_dir_of(task: Any) -> str | None:
    return getattr(task, "run_dir", None) or (
        task.get("run_dir") if isinstance(task, dict) else None
    )


def _remote_call(
    fn: Callable[[Any, Any], Any], task: Any, shared: Any, driver_node: str
) -> tuple[Any, bytes | None]:
    """Body of every Ray task: run ``fn``; pack its run directory when on another node."""
    import ray

    result = fn(task, shared)
    packed = None
    if ray.get_runtime_context().get_node_id() != driver_node:
        packed = _pack(_run_dir_of(task))
    return result, packed


def resources_for(task: Any, default_cpus: float, default_gpus: float) -> dict[str, float]:
    """CPU/GPU needs of one run from its config: ``training.num_threads`` CPUs, and a GPU
    when ``training.device`` asks for CUDA (``auto`` takes the executor default)."""
    cfg = getattr(task, "cfg", None)
    cpus, gpus = default_cpus, default_gpus
    if cfg is not None and hasattr(cfg, "effective_training"):
        tr = cfg.effective_training()
        if tr.num_threads:
            cpus = float(tr.num_threads)
        if tr.device.startswith("cuda"):
            gpus = max(gpus, 1.0)
        elif tr.device in ("cpu", "mps"):
            gpus = 0.0
    return {"num_cpus": cpus, "num_gpus": gpus}


class RayExecutor(Executor):
    """Each task is a Ray task; ``shared`` is put in the object store once.

    ``workers`` caps how many tasks are in flight (default: as many as the cluster fits).
    ``num_gpus=None`` gives each task one GPU when the cluster has GPUs.
    ``max_retries``: a task whose worker or node dies is run again elsewhere this many
    times (Ray's task retries; an exception raised by ``fn`` is a result, never retried).
    Tasks must therefore be idempotent: a benchmark run skips itself once its
    ``metrics.json`` exists and resumes from its checkpoint otherwise.
    """

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float | None = None,
        log: Log | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__(workers)
        if max_retries is None:
            max_retries = int(os.environ.get("FAULTLAB_RAY_MAX_RETRIES", "3"))
        self.max_retries = max_retries
        self.address = address if address is not None else os.environ.get("FAULTLAB_RAY_ADDRESS")
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.log = log

    def map(
        self, fn, tasks: Sequence[Any], *, shared: Any = None, on_result: OnResult | None = None
    ) -> list[Any]:
        tasks = list(tasks)
        if not tasks:
            return []
        with ray_session(self.address, log=self.log) as ray:
            gpus = self.num_gpus
            if gpus is None:
                gpus = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
            remote = ray.remote(max_retries=self.max_retries, retry_exceptions=False)(_remote_call)
            shared_ref = ray.put(shared)
            driver = ray.get_runtime_context().get_node_id()
            limit = self.workers or len(tasks)
            results: list[Any] = [None] * len(tasks)
            refs: dict[Any, int] = {}
            queue = list(enumerate(tasks))
            while queue or refs:
                while queue and len(refs) < limit:
                    i, task = queue.pop(0)
                    opts = resources_for(task, self.num_cpus, gpus)
                    refs[remote.options(**opts).remote(fn, task, shared_ref, driver)] = i
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    i = refs.pop(ref)
                    try:
                        res, packed = ray.get(ref)
                        run_dir = _run_dir_of(tasks[i])
                        # on a shared filesystem the finished run is already here
                        if (
                            packed is not None
                            and run_dir is not None  # always, when packed (_pack)
                            and not (Path(run_dir) / METRICS).exists()
                        ):
                            _unpack(packed, run_dir)
                    except Exception as exc:  # task raised, or its worker/node died
                        msg = str(exc).strip().splitlines()
                        res = TaskError(f"{type(exc).__name__}: {msg[-1] if msg else ''}")
                    results[i] = res
                    if on_result:
                        on_result(i, res)
            return results


register_executor(RayExecutor.name, RayExecutor)
