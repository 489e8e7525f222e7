"""``benchmarks/synthetic_transfer.py``: the physics models read their own front end (the one
their params declare, as the runner applies it), so the script keeps running as those front
ends change; and on a shorter version of its shift (another bearing, +-20 % speed, 48 kHz
vs 12 kHz) the order-domain models still name the fault location."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "synthetic_transfer.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("synthetic_transfer", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_physics_models_transfer_to_another_bearing_speed_and_rate(bench):
    train, test48, _ = bench.domains(seconds=1.0, seed=0)
    assert test48.window_length == 4 * train.window_length  # 48 kHz, the same 85 ms
    for name, params in (
        ("envelope", {"calibrate": "none"}),
        ("envelope-contrast", {}),
        ("envelope-contrast", {"evidence": "gated"}),
    ):
        assert bench.accuracy(name, params, train, test48, seed=0) >= 0.9, name
