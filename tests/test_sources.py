"""Several machines in one window set (``data.sources``), the cross-machine split on the
``dataset`` column, geometry and shaft speed in every window's info, and the leaderboard's
train/test machines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultlab.data.build import build_windows, for_target
from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.splits import make_splits
from faultlab.errors import ConfigError

SMALL = {
    "duration_s": 1.0,
    "loads": [0, 1],
    "locations": ["IR", "OR"],
    "sizes": [0.014],
    "normal": False,
}
TWO_RIGS = {
    "dataset": "sources",
    "sources": [
        {"dataset": "synthetic", "synthetic": SMALL},
        {
            "dataset": "synthetic",
            "label": "nice-rig",
            "synthetic": {
                **SMALL,
                "bearing": "NICE",
                "sampling_rate": 48828.0,
                "rpm": {0: 1500.0, 1: 1500.0},
                "seed": 1,
            },
        },
    ],
    "target_rate": 12000,
    "window": 512,
    "single_recording_blocks": 1,
}


def test_two_machines_in_one_window_set() -> None:
    ws = for_target(build_windows(DataConfig.model_validate(TWO_RIGS)), "location")
    assert ws.sampling_rate == 12000 and ws.classes == {"location": ["IR", "OR"]}
    by = ws.info.groupby("dataset")
    assert by["bearing"].unique().to_dict() == {"nice-rig": ["NICE"], "synthetic": ["6205"]}
    assert by["original_sampling_rate"].first().to_dict()["nice-rig"] == 48828
    assert ws.info["rpm"].notna().all() and ws.info["bearing"].notna().all()
    assert len(set(ws.recording_id)) == 8  # ids made unique across sources
    split = make_splits(
        ws, SplitConfig(kind="condition", column="dataset", train=["synthetic"], test=["nice-rig"])
    )[0]
    assert set(ws.info["dataset"].iloc[split.test]) == {"nice-rig"}
    assert set(ws.info["dataset"].iloc[np.concatenate([split.train, split.val])]) == {"synthetic"}


def test_sources_config_is_checked() -> None:
    with pytest.raises(ValueError, match="dataset: sources"):
        DataConfig.model_validate({"dataset": "cwru", "sources": [{"dataset": "mfpt"}]})
    with pytest.raises(ValueError, match="a source cannot be 'table'"):
        DataConfig.model_validate({"dataset": "sources", "sources": [{"dataset": "table"}]})
    with pytest.raises(ValueError, match="unknown dataset 'paderborn'"):
        DataConfig.model_validate({"dataset": "paderborn"})
    mfpt = DataConfig.model_validate({"dataset": "mfpt"})
    assert mfpt.select == {} and mfpt.channel == "gs"


def test_cross_machine_run_and_leaderboard(tmp_path: Path) -> None:
    from faultlab.experiments.config import ExperimentConfig
    from faultlab.experiments.runner import prepare, run_experiment
    from faultlab.reporting.leaderboard import render_leaderboard
    from faultlab.reporting.protocol import describe_protocol

    cfg = ExperimentConfig.model_validate(
        {
            "data": TWO_RIGS,
            "target": "location",
            "split": {
                "kind": "condition",
                "column": "dataset",
                "train": ["synthetic"],
                "test": ["nice-rig"],
            },
            "model": {"name": "rf", "params": {"n_estimators": 20}},
            "training": {"progress": False},
        }
    )
    windows, splits = prepare(cfg)
    run_dir = tmp_path / "bench" / "runs" / "rf" / "x" / "seed0"
    m = run_experiment(cfg, run_dir, windows=windows, split=splits[0], report=False)
    run = m["run"]
    assert run["protocol"] == "cross-machine"
    assert (run["train_data"], run["test_data"]) == ("synthetic", "nice-rig")
    pre = json.loads((run_dir / "preprocess.json").read_text())
    assert pre["channels"] == ["DE"] and pre["target_rate"] == 12000
    render_leaderboard(tmp_path / "bench")
    board = pd.read_csv(tmp_path / "bench" / "leaderboard.csv")
    assert board.loc[0, "train_data"] == "synthetic" and board.loc[0, "test_data"] == "nice-rig"
    md = (tmp_path / "bench" / "leaderboard.md").read_text()
    assert "Data: machines of train and test" in md and "Cross-machine" in md
    proto = describe_protocol(
        "condition", {"column": "dataset", "train": ["cwru"], "test": ["mfpt"]}
    )
    assert proto.label == "cross-machine" and "train on cwru, test on mfpt" in proto.text
    assert "one physical bearing" in describe_protocol(
        "group_kfold", {}, dataset="mfpt"
    ).text.replace("ONE", "one")


def test_mfpt_flat_classes_without_sizes(tmp_path: Path) -> None:
    from faultlab.data.labels import recording_labels

    meta = pd.DataFrame(
        {
            "condition": ["normal", "fault", "fault"],
            "fault_location": [None, "IR", "OR"],
            "fault_diameter_in": [None] * 3,
        }
    )
    codes, classes = recording_labels(meta)
    assert classes["class"] == ["normal", "IR", "OR"] and codes["class"].tolist() == [0, 1, 2]


def test_unknown_source_name_is_a_config_error() -> None:
    from faultlab.experiments.config import ExperimentConfig, parse_config

    with pytest.raises(ConfigError, match="data.sources.0.dataset"):
        parse_config(
            ExperimentConfig, {"data": {"dataset": "sources", "sources": [{"dataset": "xjtu"}]}}
        )


def test_cwru_windows_carry_rpm_and_bearing(cwru_dir: Path) -> None:
    from faultlab.data.datasets.cwru import read_cwru

    ws = build_windows(
        DataConfig.model_validate(
            {
                "dataset": "cwru",
                "files": [97, 105],
                "data_dir": str(cwru_dir.parent),
                "window": 4096,
                "single_recording_blocks": 1,
            }
        )
    )
    assert set(ws.info["bearing"]) == {"6205"} and ws.info["rpm"].notna().all()
    assert set(ws.info["load_unit"]) == {"hp"} and (ws.info["load"] == ws.info["load_hp"]).all()
    fan = read_cwru(105, data_dir=cwru_dir.parent, channels=("FE", "DE"))
    assert fan.meta["bearing"] == "6203" and fan.meta["channel_bearings"] == "6203+6205"
