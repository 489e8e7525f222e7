"""Shared by the serving tests: one real run on CWRU data, trained once a pytest session.

The run is the leave-one-load-out fold that tests load 3 (trained on loads 0-2) with the
``rf`` feature model (time + spectral features -> a random forest of 100 trees: ~5 s of CPU,
where a cnn1d that gets every held-out recording right needs ~60 s), windows of 1024 samples
every 2048 (half the default windows, to keep the tests quick). It is trained once a session,
whichever xdist worker asks first (``session_dir``), as is the steel-plates run. Torch models
are covered by ``untrained_run`` (export equality, backends) and by the must-show
``faultlab train --model cnn1d`` run in the serving report.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Load-3 fault recordings held out by the fold (CWRU number -> flat class).
HELD_OUT = {
    108: "IR_0.007",
    172: "IR_0.014",
    212: "IR_0.021",
    121: "B_0.007",
    188: "B_0.014",
    225: "B_0.021",
    133: "OR_0.007",
    200: "OR_0.014",
    237: "OR_0.021",
}

RUN_CONFIG = {
    "name": "serving-test",
    "data": {"stride": 2048},
    # 100 trees (the default is 300): every verdict still holds (each held-out file's class
    # has >= 0.9 of its windows), and the service tests answer three times faster
    "model": {"name": "rf", "params": {"n_estimators": 100}},
    "split": {"kind": "leave_one_out", "column": "load_hp", "folds": [3]},
    "training": {"progress": False, "seed": 0},
}


def session_dir(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per pytest session, the folder shared by every test module and
    every xdist worker (the first to ask builds it under a file lock, the others wait for it
    and reuse it). Tests only read what is in it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's popen-gwN
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            (folder / ".built").touch()
    return folder


def trained_run(tmp_path_factory, data_dir: Path) -> Path:
    """The run directory (trained on first use in this pytest session, then reused).

    ``data_dir`` is passed explicitly: module fixtures run before the per-test environment.
    """

    def train(run_dir: Path) -> None:
        import torch

        from faultlab.experiments.config import ExperimentConfig
        from faultlab.experiments.runner import prepare, run_experiment

        threads = torch.get_num_threads()
        torch.set_num_threads(2)
        raw = {**RUN_CONFIG, "data": {**RUN_CONFIG["data"], "data_dir": str(data_dir)}}
        cfg = ExperimentConfig.model_validate(raw)
        windows, splits = prepare(cfg)
        run_experiment(cfg, run_dir, windows=windows, split=splits[0], report=False)
        torch.set_num_threads(threads)

    return session_dir(tmp_path_factory, "serving-rf-load3", train)


def untrained_run(
    root: Path,
    model: str,
    classes: dict[str, list[str]] | None = None,
    params: dict | None = None,
    window: int = 1024,
) -> Path:
    """A run directory holding a freshly initialised model (for export/shape tests)."""
    from faultlab.models.base import build_model
    from faultlab.training.config import TrainConfig
    from faultlab.utils.io import write_json

    classes = classes or {"class": ["normal", "IR", "B", "OR"]}
    run_dir = root / f"untrained-{model}"
    m = build_model(model, classes, (1, window), params or {}, TrainConfig(progress=False))
    # give input normalisation realistic statistics (CWRU DE amplitudes are ~0.1-1)
    if hasattr(m, "net"):
        rng = np.random.default_rng(0)
        m.net.norm.fit(0.3 * rng.standard_normal((64, 1, window)).astype(np.float32), "global")
    m.save(run_dir / "model")
    write_json(
        run_dir / "preprocess.json",
        {
            "dataset": "cwru",
            "channels": ["DE"],
            "sampling_rate": 12000.0,
            "target_rate": 12000.0,
            "window": window,
            "stride": window,
            "normalise": "none",
            "standardiser": None,
            "target": "flat",
            "classes": classes,
            "feature_names": None,
        },
    )
    return run_dir


def steel_run(tmp_path_factory) -> Path:
    """A tabular run: rf on the steel-plates table, fold 0 of a 5-fold grouped split, trained
    with ``faultlab train`` once a session."""
    return session_dir(tmp_path_factory, "steel-rf", _train_steel) / "fold-0"


def _train_steel(out: Path) -> None:
    from faultlab.cli import main

    rc = main(
        [
            "train",
            "--dataset",
            "table",
            "--target",
            "label",
            "--model",
            "rf",
            "--set",
            "data.table={path: steel-plates/steel_plates_faults.csv}",
            "--split",
            "group_kfold",
            "--fold",
            "fold 0",
            "-p",
            "n_estimators=50",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
