"""Fuzz counts for issue 12: CLI arguments, config values, file contents, service payloads.

Runs the harness of ``tests/fuzz_support.py`` (the one ``tests/test_fuzz.py`` asserts on)
with ``--examples`` hypothesis cases per target on a tiny synthetic rf run, and prints per
target: cases, ok, clear errors, tracebacks, hangs, 5xx and stray files (the last four must
be 0), then the first failures. Optionally writes the counts as JSON (``--json``).

Run: PYTHONPATH=src python benchmarks/fuzz_report.py [--examples 200] [--only cli,service]
(a case over ``FAULTLAB_FUZZ_HANG_S`` seconds, default 15, counts as a hang)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import hypothesis  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fuzz_support as fz  # noqa: E402


def _recorder(name, check):
    def run(drawn):
        t0 = time.perf_counter()
        outcome = check(drawn)
        fz.TALLY.add(name, outcome, time.perf_counter() - t0)

    return run


def targets(env, predictor):
    return {
        "cli": (fz.cli_args(), lambda d: fz.check_cli(env, d)),
        "config": (fz.config_values(), fz.check_config),
        "yaml": (st.text(max_size=200), lambda t: fz.check_yaml_text(env, t)),
        "files": (fz.recording_files(), lambda d: fz.check_recording(env, predictor, d)),
        "artefacts": (fz.artefact_damage(), lambda d: fz.check_artefact(env, d)),
        "service": (fz.payloads(), lambda d: fz.check_payload(env, d)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200, help="cases per target")
    ap.add_argument("--only", default="", help="comma list of targets")
    ap.add_argument("--json", type=Path, help="write the counts here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from fastapi.testclient import TestClient

    from faultlab.serving.predict import Predictor
    from faultlab.serving.service import create_app

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="fuzz-report-"))
    env = fz.build_env(root)
    env.client = TestClient(create_app(env.run))
    predictor = Predictor(env.run)
    wanted = [t for t in args.only.split(",") if t]
    cfg = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    seconds = {}
    for name, (strategy, check) in targets(env, predictor).items():
        if wanted and name not in wanted:
            continue

        t0 = time.perf_counter()
        hypothesis.seed(args.seed)(cfg(given(drawn=strategy)(_recorder(name, check))))()
        seconds[name] = time.perf_counter() - t0
        c = fz.TALLY.counts.get(name, {})
        print(
            f"{name:10s} cases {sum(c.values()):5d}  ok {c.get('ok', 0):5d}  clear errors "
            f"{c.get('clear', 0):5d}  tracebacks {c.get('traceback', 0)}  hangs "
            f"{c.get('hang', 0)}  5xx {c.get('5xx', 0)}  stray files {c.get('stray', 0)}  "
            f"(slowest case {fz.TALLY.slowest.get(name, 0):.1f} s; {seconds[name]:.0f} s)",
            flush=True,
        )
    total = {
        k: sum(c.get(k, 0) for c in fz.TALLY.counts.values())
        for k in ("ok", "clear", "traceback", "hang", "5xx", "stray")
    }
    print(
        f"{'total':10s} cases {sum(total.values()):5d}  ok {total['ok']:5d}  clear errors "
        f"{total['clear']:5d}  tracebacks {total['traceback']}  hangs {total['hang']}  "
        f"5xx {total['5xx']}  stray files {total['stray']}"
    )
    for name, examples in fz.TALLY.examples.items():
        for ex in examples[:3]:
            print(f"FAILURE {name}: {ex}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "counts": {k: dict(v) for k, v in fz.TALLY.counts.items()},
                    "total": total,
                    "seconds": seconds,
                    "slowest_case_s": fz.TALLY.slowest,
                    "hang_limit_s": fz.HANG_S,
                },
                indent=2,
            )
        )
    sys.exit(1 if total["traceback"] + total["hang"] + total["5xx"] + total["stray"] else 0)


if __name__ == "__main__":
    main()
