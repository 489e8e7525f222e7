"""How long `faultlab data info FILE` takes, as a user runs it (a fresh process each time).

    PYTHONPATH=src .venv/bin/python benchmarks/data_info_speed.py [FILE ...] [--repeat 5]

Prints the median wall time and CPU time (user + sys of the child) per file. The target is
under 1 s on an idle machine; on a shared, loaded machine wall time is mostly waiting, so
CPU time is printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(
    os.environ.get("FAULTLAB_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
DEFAULT = [SHARED / "mfpt" / "InnerRaceFault_vload_1.mat", SHARED / "cwru" / "105.mat"]


def _one(file: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "faultlab", "data", "info", str(file)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
    for file in args.files:
        runs = [_one(file) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{file.name}: median wall {wall:.2f} s, CPU {cpu:.2f} s ({args.repeat} runs)")


if __name__ == "__main__":
    main()
