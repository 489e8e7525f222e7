"""``kill -9`` a benchmark at random points, rerun it: nothing finished is lost or redone,
nothing is corrupt, and the leaderboard equals an uninterrupted run's (benchmarks/
kill_benchmark.py does the same with 20 kills)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import kill_benchmark as kb  # noqa: E402


@pytest.mark.slow
def test_killed_benchmark_recovers_exactly(tmp_path):
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump(kb.CONFIG))
    clean = subprocess.run(
        kb._command(config, tmp_path / "clean"), env=kb._env(), capture_output=True, text=True
    )
    assert clean.returncode == 0, clean.stderr[-2000:]
    counts = kb.kill_and_finish(
        config,
        tmp_path / "killed",
        kills=2,
        rng=random.Random(1),
        max_delay=20.0,
        min_delay=6.0,
        log=lambda _: None,
    )
    assert counts["kills"] >= 1 and counts["runs"] == 4
    assert (counts["lost"], counts["redone"]) == (0, 0)
    assert kb.check_artefacts(tmp_path / "killed") == []
    assert kb.scores(tmp_path / "killed") == kb.scores(tmp_path / "clean")
