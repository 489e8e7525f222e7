"""Where benchmark runs execute: one interface, back-ends in a registry.

``Executor.map(fn, tasks, shared=...)`` calls ``fn(task, shared)`` for every task and returns
the results in task order. ``shared`` is the large read-only object every task needs (the
windows and folds): back-ends ship it once per worker, not once per task. A task that dies
with its worker (segfault, out of memory) comes back as a :class:`TaskError`, so one bad run
never loses the others. New back-ends (Ray, a cluster) register in ``EXECUTORS``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from faultlab.errors import ConfigError


@dataclass
class TaskError:
    """A task that raised or whose worker died; ``message`` is one line."""

    message: str


OnResult = Callable[[int, Any], None]


class Executor(ABC):
    """Runs ``fn(task, shared)`` over tasks; ``on_result(index, result)`` as each finishes."""

    name = "executor"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    @abstractmethod
    def map(
        self,
        fn: Callable[[Any, Any], Any],
        tasks: Sequence[Any],
        *,
        shared: Any = None,
        on_result: OnResult | None = None,
    ) -> list[Any]: ...


class LocalExecutor(Executor):
    """In this process, one task after another (the default; easiest to debug)."""

    name = "local"

    def map(self, fn, tasks, *, shared=None, on_result=None):
        results = []
        for i, task in enumerate(tasks):
            try:
                res = fn(task, shared)
            except Exception as exc:  # keep going: one failed task must not lose the rest
                res = TaskError(f"{type(exc).__name__}: {exc}")
            results.append(res)
            if on_result:
                on_result(i, res)
        return results


_SHARED: Any = None


def _init_worker(shared: Any, threads: int) -> None:
    """Per worker: receive the shared object once, and limit math threads so N workers
    share the cores instead of oversubscribing them."""
    global _SHARED
    _SHARED = shared
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)  # read by torch/numpy when they are first imported
    torch = sys.modules.get("torch")
    if torch is not None:  # already imported (fork start method): set it directly
        torch.set_num_threads(threads)


def _call(fn: Callable[[Any, Any], Any], task: Any) -> Any:
    return fn(task, _SHARED)


class ProcessExecutor(Executor):
    """``concurrent.futures`` process pool with ``workers`` processes (default: CPU count).

    Uses the ``spawn`` start method: forking a parent whose torch/OpenMP thread pools are
    already running can deadlock the children.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, start_method: str = "spawn") -> None:
        super().__init__(workers or os.cpu_count() or 1)
        self.start_method = start_method

    def map(self, fn, tasks, *, shared=None, on_result=None):
        tasks = list(tasks)
        if not tasks:
            return []
        n = max(1, min(self.workers or 1, len(tasks)))  # __init__ set workers
        threads = max(1, (os.cpu_count() or 1) // n)
        results: list[Any] = [None] * len(tasks)
        ctx = mp.get_context(self.start_method)
        with ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(shared, threads)
        ) as pool:
            futures: dict[Future, int] = {pool.submit(_call, fn, t): i for i, t in enumerate(tasks)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        res = fut.result()
                    except Exception as exc:  # BrokenProcessPool, or fn raised
                        res = TaskError(f"{type(exc).__name__}: {exc}")
                    results[i] = res
                    if on_result:
                        on_result(i, res)
        return results


#: ``--executor`` name -> class (constructor takes ``workers``). Ray registers here later.
EXECUTORS: dict[str, type[Executor]] = {
    LocalExecutor.name: LocalExecutor,
    ProcessExecutor.name: ProcessExecutor,
}


def register_executor(name: str, cls: type[Executor]) -> None:
    EXECUTORS[name] = cls


#: Back-ends in modules with optional dependencies: imported (and so registered) on first use.
LAZY_EXECUTORS: dict[str, str] = {"ray": "faultlab.experiments.ray_executor"}


def make_executor(name: str = "local", workers: int | None = None) -> Executor:
    if name not in EXECUTORS and name in LAZY_EXECUTORS:
        import importlib

        importlib.import_module(LAZY_EXECUTORS[name])
    if name not in EXECUTORS:
        raise ConfigError(
            f"unknown executor {name!r}; choose one of {', '.join(sorted(EXECUTORS))}"
        )
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    return EXECUTORS[name](workers=workers)
