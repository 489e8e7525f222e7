"""Tuning workers as Ray tasks: every worker joins the same study storage (see
:mod:`faultlab.experiments.ray_executor` for the executor itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faultlab.errors import ConfigError
from faultlab.experiments.executors import TaskError
from faultlab.experiments.ray_executor import RayExecutor
from faultlab.experiments.tuning.config import Log
from faultlab.experiments.tuning.worker import run_worker


def _tuning_worker(job: Any, _shared: Any) -> dict[str, Any]:
    return run_worker(job)


def run_tuning_workers(
    jobs: Sequence[Any], resources: Any, address: str | None = None, log: Log | None = None
) -> list[dict[str, Any]]:
    """One Ray task per tuning worker (all on the same study storage); their summaries.

    With several machines, the storage must be reachable from all of them (PostgreSQL or
    MySQL URL); a SQLite file only works when every node sees the same file.
    """
    storage = jobs[0].storage if jobs else ""
    if address not in (None, "local") and storage.startswith("sqlite") and log:
        log(
            "note: SQLite storage on a Ray cluster only works if every node sees that file; "
            "use --storage postgresql://... for several machines"
        )
    ex = RayExecutor(
        workers=len(jobs),
        address=None if address == "local" else address,
        num_cpus=resources.num_cpus,
        num_gpus=resources.num_gpus,
        log=log,
    )

    def report(i: int, res: Any) -> None:
        if log:
            if isinstance(res, TaskError):
                log(f"  worker {i} failed: {res.message}")
            else:
                log(
                    f"  worker {i}: {len(res['trials'])} trial(s) {res['trials']} in {res['seconds']:.0f} s"
                )

    results = ex.map(_tuning_worker, list(jobs), on_result=report)
    failed = [r for r in results if isinstance(r, TaskError)]
    if failed and len(failed) == len(results):
        raise ConfigError(f"every tuning worker failed on Ray; first: {failed[0].message}")
    return [r if not isinstance(r, TaskError) else {"error": r.message} for r in results]
