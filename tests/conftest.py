"""Shared fixtures: the real data in ../shared/data (never copied into the repo)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

#: Bytecode caches on, whatever the shell says: with PYTHONDONTWRITEBYTECODE=1 (set on the
#: shared machine) each xdist worker re-compiled faultlab and re-rewrote every test module,
#: and each subprocess, spawned executor and Ray worker re-compiled faultlab (1-2 s of CPU
#: per interpreter start, about 20 s a session). __pycache__ is git-ignored.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

#: ../shared/data beside the repository (``$FAULTLAB_SHARED_DATA``, else ``$FAULTLAB_DATA_DIR``,
#: overrides: ``FAULTLAB_DATA_DIR=/nonexistent`` runs the suite without the real files, whose
#: tests skip); a worktree nested deeper than the repository finds it further up.
SHARED_DATA = Path(
    os.environ.get("FAULTLAB_SHARED_DATA")
    or os.environ.get("FAULTLAB_DATA_DIR")
    or next(
        (
            p / "shared" / "data"
            for p in Path(__file__).resolve().parents[1:]
            if (p / "shared" / "data").is_dir()
        ),
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)
CWRU_DIR = SHARED_DATA / "cwru"
MFPT_DIR = SHARED_DATA / "mfpt"
STEEL_CSV = SHARED_DATA / "steel-plates" / "steel_plates_faults.csv"

os.environ.setdefault("MPLBACKEND", "Agg")
#: Every run times its model (3 warm-up and 20 timed calls per mode by default); the tests
#: check that the figures are there, not their precision, so one warm-up and one timed call
#: per mode do (subprocesses and Ray workers inherit it). tests/test_metrics.py checks the
#: repeat logic itself with explicit counts.
os.environ.setdefault("FAULTLAB_SPEED_REPEATS", "1")


@pytest.fixture(scope="module", autouse=True)
def _cluster_speed_repeats(request):
    """3 timed calls per speed mode in ``cluster`` modules: they kill a process mid-run at
    moments timed against run lengths (module-scoped and autouse, so the Ray nodes and
    subprocesses their fixtures start inherit it)."""
    if request.node.get_closest_marker("cluster") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAULTLAB_SPEED_REPEATS", "3")
        yield


#: Fixtures that need the real files: a test using one is an integration test.
SHARED_FIXTURES = {"shared_data", "cwru_dir", "mfpt_dir", "steel_csv"}


#: The longest test modules (wall seconds on 2 quiet cores, longest first): collected first,
#: so the two xdist workers (``--dist loadfile --no-loadscope-reorder``) start on them and
#: finish on the short ones instead of waiting for a long one at the end. test_ray mostly
#: waits for its Ray worker processes (little CPU in the pytest worker): started first, it
#: overlaps with the other worker's CPU-bound modules.
SLOW_MODULES = (
    "test_ray.py",  # a local Ray cluster and its workers, each importing torch
    "test_benchmark.py",
    "test_tuning.py",  # two tuning worker processes on one study
    "test_kill.py",  # one test: kill -9 a benchmark subprocess inside training, rerun it
    "test_api.py",
    "test_models.py",
    "test_service.py",
    "test_hardening.py",
    "test_estimator.py",
    "test_classical.py",
    "test_fuzz.py",
    "test_onnx_passes.py",
    "test_export_classical.py",
    "test_train_cli.py",
    "test_tracking.py",
    "test_frontend.py",
    "test_report.py",
    "test_docs.py",
    "test_engine.py",
    "test_signals.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that reads ../shared/data ``shared`` (whether by a fixture or by an
    explicit mark), so ``-m "not shared"`` selects the unit tests, which run anywhere; put
    the slow modules first (their own order is kept; test order never matters)."""
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)
    rank = {name: i for i, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_MODULES)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not CWRU_DIR.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cwru_dir(shared_data: Path) -> Path:
    return shared_data / "cwru"


@pytest.fixture(scope="session")
def mfpt_dir(shared_data: Path) -> Path:
    if not MFPT_DIR.exists():
        pytest.skip(f"shared MFPT data not found at {MFPT_DIR}")
    return MFPT_DIR


@pytest.fixture(scope="session")
def steel_csv(shared_data: Path) -> Path:
    return STEEL_CSV


@pytest.fixture(autouse=True)
def _data_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read the shared copy unless they point FAULTLAB_DATA_DIR elsewhere."""
    monkeypatch.setenv("FAULTLAB_DATA_DIR", str(SHARED_DATA))
