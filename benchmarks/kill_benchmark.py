"""Kill a benchmark with ``kill -9`` at random points, rerun it, and compare with a clean run.

A tiny synthetic benchmark (a 40-epoch mlp and rf on two leave-one-load-out folds,
``--seeds`` seeds: 16 runs by default) is
started as ``faultlab benchmark`` in a subprocess and killed with SIGKILL after a random
delay, ``--kills`` times, then run to the end. After every kill the finished runs
(``done.json``) are recorded: a run finished once must never be redone or lost. At the end
every artefact must read back (no ``*.corrupt``), and the leaderboard's scores must equal
those of an uninterrupted run in another folder.

Run: PYTHONPATH=src python benchmarks/kill_benchmark.py [--kills 20] [--seeds 4] [--max-delay 40]
(``tests/test_kill.py`` runs the same check with fewer kills.)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CONFIG = {
    "name": "kill-test",
    "data": {
        "dataset": "synthetic",
        "window": 256,
        "target_rate": None,
        "synthetic": {"duration_s": 1.0, "loads": [0, 1], "sizes": [0.007]},
    },
    "split": {"kind": "leave_one_out", "column": "load_hp"},
    # the mlp first and long enough (40 epochs, a checkpoint each) that kills land inside its
    # training: the rerun then resumes from checkpoint.pt and must match the clean run exactly
    "models": [
        {
            "name": "mlp",
            "params": {"hidden": [128, 128]},
            "training": {
                "epochs": 40,
                "batch_size": 32,
                "patience": None,
                "device": "cpu",
                "amp": False,
            },
        },
        {"name": "rf", "params": {"n_estimators": 5, "n_jobs": 1}},
    ],
    "seeds": [0],
    "training": {"progress": False, "num_threads": 1},
}
#: leaderboard.csv columns that must match an uninterrupted run (timings never do)
SCORE_COLUMNS = [
    "model",
    "accuracy_mean",
    "accuracy_std",
    "macro_f1_mean",
    "macro_f1_std",
    "balanced_accuracy_mean",
    "recording_accuracy_mean",
    "n_runs",
    "n_params",
]


def _command(config: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "faultlab",
        "benchmark",
        str(config),
        "--out",
        str(out),
        "--quiet",
    ]


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def finished_runs(out: Path) -> dict[str, str]:
    """run dir -> its done.json text, for every finished run."""
    return {str(p.parent.relative_to(out)): p.read_text() for p in out.glob("runs/**/done.json")}


def check_artefacts(out: Path) -> list[str]:
    """Files that do not read back, and anything kept aside as corrupt."""
    import torch

    bad = [str(p.relative_to(out)) for p in out.rglob("*.corrupt*")]
    for p in out.rglob("*.json"):
        try:
            json.loads(p.read_text())
        except ValueError:
            bad.append(str(p.relative_to(out)))
    for p in out.rglob("checkpoint.pt"):
        try:
            torch.load(p, weights_only=True)
        except Exception:  # noqa: BLE001
            bad.append(str(p.relative_to(out)))
    for run in out.glob("runs/**/done.json"):
        for name in ("metrics.json", "report.md", "report.html", "model/model.json"):
            if not (run.parent / name).exists():
                bad.append(f"{run.parent.relative_to(out)}/{name} missing")
    return bad


def scores(out: Path) -> list[dict[str, str]]:
    with open(out / "leaderboard.csv") as fh:
        return [{k: row[k] for k in SCORE_COLUMNS} for row in csv.DictReader(fh)]


def in_training(out: Path, finished: int = 0) -> bool:
    """A run is training (it has written a checkpoint but no ``done.json``) and at least
    ``finished`` runs are done: a kill now lands inside an epoch loop."""
    done = {p.parent for p in out.glob("runs/**/done.json")}
    return len(done) >= finished and any(
        p.parent not in done for p in out.glob("runs/**/checkpoint.pt")
    )


#: Polls of the run directory while waiting for a kill point (s).
POLL_S = 0.02


def _kill_after(proc: subprocess.Popen, delay: float | None, when, timeout: float) -> bool:
    """Wait ``delay`` seconds, or until ``when()`` holds (``timeout`` at most), then SIGKILL
    the process group; False when the benchmark ended first."""
    if when is None:
        try:
            proc.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            pass
    else:
        t0 = time.monotonic()
        while not when():
            if proc.poll() is not None:
                return False
            if time.monotonic() - t0 > timeout:
                raise SystemExit(f"no kill point within {timeout:.0f} s")
            time.sleep(POLL_S)
    os.killpg(proc.pid, signal.SIGKILL)  # the benchmark and anything it started
    proc.wait()
    return True


def kill_and_finish(
    config: Path,
    out: Path,
    kills: int,
    rng: random.Random,
    max_delay: float,
    log=print,
    min_delay: float = 2.0,
    kill_points: list | None = None,
    timeout: float = 300.0,
    finish=None,
) -> dict[str, int]:
    """``kills`` SIGKILLs at random delays, then one run to the end; returns the counts.

    ``kill_points`` (one predicate on ``out`` per kill, e.g. :func:`in_training`) kill at
    those moments instead of at random delays. ``finish()`` runs the benchmark to the end
    instead of a last ``faultlab benchmark`` subprocess (e.g. ``run_benchmark`` in this
    process)."""
    seen: dict[str, str] = {}
    lost = redone = done_kills = 0
    while done_kills < kills:
        proc = subprocess.Popen(
            _command(config, out),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        point = kill_points[done_kills] if kill_points else None
        delay = None if point else rng.uniform(min_delay, max_delay)
        if _kill_after(proc, delay, point and (lambda p=point: p(out)), timeout):
            done_kills += 1
        elif proc.returncode != 0:
            raise SystemExit(f"the benchmark failed (exit {proc.returncode}) before a kill")
        now = finished_runs(out)
        lost += sum(1 for r in seen if r not in now)
        redone += sum(1 for r, text in seen.items() if r in now and now[r] != text)
        seen.update(now)
        if proc.returncode == 0:  # every run finished before the kill: nothing left to kill
            log(f"the benchmark finished before kill {done_kills + 1}")
            break
        when = f"after {delay:.1f} s" if delay is not None else "at its kill point"
        log(f"kill {done_kills}/{kills} {when}: {len(now)} run(s) finished")
    if finish is not None:
        finish()
    else:
        final = subprocess.run(_command(config, out), env=_env(), capture_output=True, text=True)
        if final.returncode != 0:
            raise SystemExit(f"final rerun failed: {final.stderr[-2000:]}")
    now = finished_runs(out)
    lost += sum(1 for r in seen if r not in now)
    redone += sum(1 for r, text in seen.items() if r in now and now[r] != text)
    resumed = sum(
        "resumed from checkpoint.pt" in p.read_text() for p in out.glob("runs/**/metrics.json")
    )
    return {
        "kills": done_kills,
        "finished_before_final": len(seen),
        "lost": lost,
        "redone": redone,
        "runs": len(now),
        "resumed": resumed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--max-delay", type=float, default=40.0, help="longest wait before a kill (s)")
    ap.add_argument("--seeds", type=int, default=4, help="seeds per model (4 runs each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="work in this folder (default: a temporary one)")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="faultlab-kill-"))
    root.mkdir(parents=True, exist_ok=True)
    config = root / "bench.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "seeds": list(range(args.seeds))}))
    t0 = time.perf_counter()
    clean = subprocess.run(
        _command(config, root / "clean"), env=_env(), capture_output=True, text=True
    )
    if clean.returncode != 0:
        raise SystemExit(f"uninterrupted run failed: {clean.stderr[-2000:]}")
    print(f"uninterrupted run: {time.perf_counter() - t0:.0f} s")
    counts = kill_and_finish(
        config, root / "killed", args.kills, random.Random(args.seed), args.max_delay
    )
    bad = check_artefacts(root / "killed")
    same = scores(root / "killed") == scores(root / "clean")
    print(
        f"kills {counts['kills']}, runs finished before the last rerun "
        f"{counts['finished_before_final']}, runs resumed from a checkpoint "
        f"{counts['resumed']}, finished runs lost {counts['lost']}, redone "
        f"{counts['redone']}, unreadable/corrupt artefacts {len(bad)}, leaderboard equal to "
        f"the uninterrupted run: {same}"
    )
    for b in bad[:10]:
        print(f"  bad: {b}")
    sys.exit(0 if same and not bad and not counts["lost"] and not counts["redone"] else 1)


if __name__ == "__main__":
    main()
