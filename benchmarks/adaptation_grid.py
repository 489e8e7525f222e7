"""Run a grid of domain-adaptation cells (method x fold x seed) fast, on CPU or a GPU.

Shared by ``load_transfer.py`` and ``held_out_size_adaptation.py``. The windows and folds
are built once in the parent and handed to each worker process once (``--jobs N``, spawn
start method, torch limited to ``--threads`` per worker); every cell writes its own run
directory (``OUT/runs/<model>-<method>/<fold>/seed<k>``, or under ``--runs-dir``; finished
cells are skipped and unfinished ones resume from their checkpoint) and the parent rewrites ``OUT/results.json`` (every
finished cell) and the Markdown table after each one, so whatever finished is on disk when
``--time-limit`` runs out (the workers still running are then stopped). Cells run in
priority order: the ``--priority`` methods for every seed first, then the others seed by
seed, so a short allowance still yields the headline comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

METHOD_ORDER = ["none", "adabn", "coral", "mmd", "jmmd", "dann", "cdan", "cdan+e"]


@dataclass(frozen=True)
class Cell:
    """One run: adaptation method, fold name, seed."""

    method: str
    fold: str
    seed: int


def add_grid_args(ap: argparse.ArgumentParser, default_out: str) -> None:
    """The options both grid benchmarks share."""
    ap.add_argument("--out", default=default_out, help="results: runs/, results.json, table")
    ap.add_argument(
        "--runs-dir",
        default=None,
        help="where the run directories go (default OUT/runs; elsewhere keeps OUT small: "
        "results.json and table.md only)",
    )
    ap.add_argument("--model", default="cnn1d", help="backbone (any deep model)")
    ap.add_argument("--methods", default="", help="comma list (default: all 8)")
    ap.add_argument("--seeds", default="", help="comma list (default: the config's)")
    ap.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (1: in this process)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--amp", action="store_true", help="mixed precision on CUDA (off: fp32)")
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds; then stop the workers and write what finished (--jobs 1: checked "
        "between cells)",
    )
    ap.add_argument(
        "--priority",
        default="none,jmmd",
        help="methods run for every seed before the others (default none,jmmd)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. training.lr=0.003, training.adaptation.weight=0.5, "
        "params.input_norm=window (model params); repeatable",
    )
    ap.add_argument("--table-only", action="store_true", help="only rebuild the table")


def parse_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _set_path(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def configure(bench: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """(benchmark config with ``--epochs/--device/--amp/--set`` applied, model params)."""
    from faultlab.experiments.benchmark import BenchmarkConfig

    dump = bench.model_dump(mode="json")
    params: dict[str, Any] = {}
    for m in dump.get("models", []):  # the config's params for this backbone, if any
        if m["name"] == args.model:
            params = dict(m.get("params") or {})
            break
    tr = dump["training"]
    tr.update(device=args.device, amp=bool(args.amp), progress=False, num_threads=args.threads)
    if args.epochs:
        tr["epochs"] = args.epochs
    tr["checkpoint_every"] = max(1, tr["epochs"] // 4)  # fewer writes; resume still works
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --set {item!r}: expected KEY=VALUE")
        value = yaml.safe_load(raw)
        if key.startswith("params."):
            _set_path(params, key[len("params.") :], value)
        else:
            _set_path(dump, key, value)
    if args.seeds:
        dump["seeds"] = [int(s) for s in parse_list(args.seeds)]
    return BenchmarkConfig.model_validate(dump), params


def experiment(bench: Any, model: str, params: dict[str, Any], method: str) -> Any:
    """The ExperimentConfig of one method: the benchmark's training with ``method`` set."""
    from faultlab.experiments.config import ModelConfig

    cfg = bench.experiment(ModelConfig(name=model, label=f"{model}-{method}", params=params))
    ad = cfg.training.adaptation.model_copy(update={"method": method})
    cfg.training = cfg.training.model_copy(update={"adaptation": ad})
    return cfg


def order_cells(cells: list[Cell], priority: Sequence[str], seeds: Sequence[int]) -> list[Cell]:
    """Priority methods for every seed first; then the other methods, seed by seed."""
    rank = {s: i for i, s in enumerate(seeds)}

    def key(c: Cell) -> tuple[int, int, int]:
        tier = 0 if c.method in priority else 1 + rank[c.seed]
        m = METHOD_ORDER.index(c.method) if c.method in METHOD_ORDER else 99
        return (tier, rank[c.seed], m)

    return sorted(cells, key=key)  # stable: folds keep their order within a tier


def run_dir_of(out: Path, model: str, cell: Cell) -> Path:
    from faultlab.experiments import rundir

    return (
        out / rundir.slug(f"{model}-{cell.method}") / rundir.slug(cell.fold) / (f"seed{cell.seed}")
    )


def _seconds_per_epoch(run_dir: Path) -> float | None:
    """Median epoch seconds from history.csv (the first epoch, with warm-up, left out)."""
    path = run_dir / "history.csv"
    if not path.exists():
        return None
    with path.open() as fh:
        secs = [float(r["seconds"]) for r in csv.DictReader(fh) if r.get("seconds")]
    return statistics.median(secs[1:] or secs) if secs else None


def summarise(cell: Cell, run_dir: Path, metrics: dict[str, Any], task: str) -> dict[str, Any]:
    tm = metrics["tasks"][task]
    tr = metrics.get("training", {})
    return {
        **asdict(cell),
        "status": "ok",
        "accuracy": 100 * metrics["primary"]["accuracy"],
        "macro_f1": 100 * metrics["primary"].get("macro_f1", float("nan")),
        "recall": {c: 100 * tm["per_class"][c]["recall"] for c in tm["classes"]},
        "epochs": tr.get("epochs"),
        "train_seconds": tr.get("train_seconds"),
        "seconds_per_epoch": _seconds_per_epoch(run_dir),
        "device": tr.get("device"),
        "adaptation": metrics.get("run", {}).get("adaptation"),
        "run_dir": str(run_dir),
    }


# --- worker side -----------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def init_worker(state: dict[str, Any]) -> None:
    """Once per process: the windows, folds and configs; torch thread count."""
    import torch

    torch.set_num_threads(int(state["threads"]))
    _STATE.clear()
    _STATE.update(state)


def run_cell(cell: Cell) -> dict[str, Any]:
    """Train and evaluate one cell (resuming its checkpoint); errors come back as a dict."""
    from faultlab.experiments import rundir
    from faultlab.experiments.runner import effective_config, run_experiment

    st = _STATE
    run_dir = run_dir_of(Path(st["runs"]), st["model"], cell)
    t0 = time.perf_counter()
    try:
        cfg = experiment(st["bench"], st["model"], st["params"], cell.method)
        plan = rundir.plan(run_dir, effective_config(cfg, cell.seed), True, log=lambda _: None)
        if plan == "skip":
            metrics = json.loads((run_dir / "metrics.json").read_text())
        else:
            metrics = run_experiment(
                cfg,
                run_dir,
                windows=st["windows"],
                split=st["folds"][cell.fold],
                seed=cell.seed,
                resume=plan == "resume",
                report=False,
            )
    except Exception as exc:  # one failed cell must not stop the grid
        return {**asdict(cell), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    res = summarise(cell, run_dir, metrics, st["task"])
    res["wall_seconds"] = time.perf_counter() - t0
    return res


# --- parent side -----------------------------------------------------------------------------
def run_grid(
    cells: list[Cell],
    state: dict[str, Any],
    jobs: int,
    deadline: float | None,
    on_result: Callable[[dict[str, Any]], None],
) -> int:
    """Run ``cells`` (in order) on ``jobs`` workers until done or ``deadline``
    (``time.monotonic()``); returns how many finished."""
    done = 0
    if jobs <= 1:
        init_worker(state)
        for cell in cells:
            if deadline is not None and time.monotonic() > deadline:
                break
            on_result(run_cell(cell))
            done += 1
        return done
    ctx = mp.get_context("spawn")  # forking a process with torch thread pools can deadlock
    pool = ctx.Pool(min(jobs, len(cells)), initializer=init_worker, initargs=(state,))
    try:
        it = pool.imap_unordered(run_cell, cells, chunksize=1)
        while done < len(cells):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                res = it.next(timeout=left)
            except mp.TimeoutError:
                break
            except StopIteration:
                break
            on_result(res)
            done += 1
    finally:
        pool.terminate()  # stops cells still running at the deadline (they can resume)
        pool.join()
    return done


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_results(
    out: Path, settings: dict[str, Any] | None
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Cells finished earlier in ``out``; none when they ran under other settings."""
    path = out / "results.json"
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    if settings is not None and old.get("settings", {}).get("config") != settings["config"]:
        print(f"{path}: earlier results ran under other settings; starting a new table")
        return {}
    runs = old.get("runs", [])
    return {(r["method"], r["fold"], r["seed"]): r for r in runs if r.get("status") == "ok"}


def save_results(
    out: Path, results: dict[tuple[str, str, int], dict[str, Any]], settings: dict[str, Any]
) -> None:
    runs = sorted(results.values(), key=lambda r: (r["method"], r["fold"], r["seed"]))
    write_atomic(out / "results.json", json.dumps({"settings": settings, "runs": runs}, indent=1))


def timing_lines(runs: list[dict[str, Any]], methods: Sequence[str]) -> list[str]:
    """Median seconds per epoch per method and its ratio to source-only (same grid)."""
    med = {}
    for m in methods:
        s = [r["seconds_per_epoch"] for r in runs if r["method"] == m and r["seconds_per_epoch"]]
        if s:
            med[m] = statistics.median(s)
    if not med:
        return []
    base = med.get("none")
    cells = [f"{m} {v:.3f}" + (f" ({v / base:.2f}x)" if base else "") for m, v in med.items()]
    return [
        "Median seconds per epoch (workers share the device, so ratios are indicative; "
        "benchmarks/adaptation_speed.py times them interleaved in one process): " + ", ".join(cells)
    ]


def run_main(
    args: argparse.Namespace,
    bench: Any,
    params: dict[str, Any],
    windows: Any,
    folds: dict[str, Any],
    methods: list[str],
    render: Callable[[dict[tuple[str, str, int], dict[str, Any]]], str],
    settings: dict[str, Any],
) -> None:
    """Plan, run (unless ``--table-only``) and write results.json + table.md."""
    t_start = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = load_results(out, None if args.table_only else settings)
    table_path = out / "table.md"

    def flush() -> None:
        if not args.table_only:
            save_results(out, results, settings)
        write_atomic(table_path, render(results))

    if not args.table_only:
        seeds = list(bench.seeds)
        cells = [Cell(m, f, s) for m in methods for s in seeds for f in folds]
        cells = order_cells(cells, parse_list(args.priority), seeds)
        state = {
            "bench": bench,
            "params": params,
            "model": args.model,
            "windows": windows,
            "folds": folds,
            "task": windows.tasks[0],
            "runs": str(Path(args.runs_dir) if args.runs_dir else out / "runs"),
            "threads": args.threads,
        }
        deadline = t_start + args.time_limit if args.time_limit else None
        n_total = len(cells)
        print(
            f"{n_total} cells ({len(methods)} methods x {len(folds)} folds x {len(seeds)} "
            f"seeds), {args.jobs} job(s), device {args.device}, "
            f"epochs {bench.training.epochs}",
            flush=True,
        )
        count = [0]

        def on_result(res: dict[str, Any]) -> None:
            count[0] += 1
            key = (res["method"], res["fold"], res["seed"])
            if res["status"] == "ok":
                results[key] = res
                spe = res.get("seconds_per_epoch") or 0
                print(
                    f"[{count[0]}/{n_total} {time.monotonic() - t_start:6.0f}s] {res['method']} "
                    f"{res['fold']} seed {res['seed']}: {res['accuracy']:.2f} % "
                    f"({spe:.3f} s/epoch)",
                    flush=True,
                )
                flush()
            else:
                print(f"[{count[0]}/{n_total}] FAILED {key}: {res.get('error')}", flush=True)

        n = run_grid(cells, state, args.jobs, deadline, on_result)
        if n < n_total:
            print(f"time limit: {n} of {n_total} cells finished; rerun to continue", flush=True)
        print(f"wall {time.monotonic() - t_start:.0f} s", flush=True)
    flush()
    print(table_path.read_text())
    print(f"written: {out / 'results.json'}, {table_path}")
