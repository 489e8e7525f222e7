"""``kill -9`` a benchmark inside a run's training, after an earlier run finished, and rerun
it: the finished run is neither lost nor redone, nothing is corrupt, the killed run resumes
from its checkpoint, and the leaderboard equals an uninterrupted run's
(benchmarks/kill_benchmark.py does the same with 20 kills at random moments)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import torch
import yaml

from faultlab.experiments.benchmark import BenchmarkConfig, run_benchmark

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import kill_benchmark as kb  # noqa: E402


def _config() -> dict:
    """The benchmark script's grid with a shorter mlp and without its rf: the kill waits for a
    checkpoint rather than a random delay, so 12 epochs (a checkpoint each) are enough to land
    inside them. The mlp's two folds are the runs that matter (the first finishes before the
    kill, the second is killed in training and resumed); the rf runs only ever started after
    the kill, and cost 4 extra runs (and an sklearn/skops import) without adding a check."""
    raw = yaml.safe_load(yaml.safe_dump(kb.CONFIG))
    assert [m["name"] for m in raw["models"]] == ["mlp", "rf"]
    raw["models"] = raw["models"][:1]
    raw["models"][0]["training"]["epochs"] = 12
    return raw


@pytest.mark.slow
def test_killed_benchmark_recovers_exactly(tmp_path):
    raw = _config()
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump(raw))
    cfg = BenchmarkConfig.model_validate(raw)

    def in_process(out: Path, report: bool = True) -> dict:
        """``faultlab benchmark`` without a subprocess start-up: run_benchmark in this process,
        on one thread as the subprocess (OMP_NUM_THREADS=1, num_threads 1)."""
        threads = torch.get_num_threads()
        try:
            return run_benchmark(cfg, out, log=print, report=report)
        finally:
            torch.set_num_threads(threads)

    # the uninterrupted run: only its leaderboard is compared, so its runs skip their reports
    # (the killed benchmark's runs keep theirs: check_artefacts needs them)
    clean = in_process(tmp_path / "clean", report=False)
    assert (clean["ran"], clean["failed"]) == (2, 0)
    # `faultlab benchmark` in a subprocess, killed inside the second mlp run's epochs after the
    # first run finished; then the rerun (in this process) must neither lose nor redo the
    # finished run, and must resume the killed one from its checkpoint
    rerun: list[dict] = []
    counts = kb.kill_and_finish(
        config,
        tmp_path / "killed",
        kills=1,
        rng=random.Random(1),
        max_delay=0.0,
        log=print,
        kill_points=[lambda out: kb.in_training(out, finished=1)],
        timeout=120.0,
        finish=lambda: rerun.append(in_process(tmp_path / "killed")),
    )
    assert counts["kills"] == 1 and counts["runs"] == 2
    assert counts["finished_before_final"] >= 1
    assert rerun[0]["skipped"] == counts["finished_before_final"] and rerun[0]["failed"] == 0
    assert (counts["lost"], counts["redone"]) == (0, 0)
    assert counts["resumed"] >= 1  # the killed mlp run went on from its checkpoint
    assert kb.check_artefacts(tmp_path / "killed") == []
    assert kb.scores(tmp_path / "killed") == kb.scores(tmp_path / "clean")
