"""Splits with an unlabelled adapt role, and the condition columns users need."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultlab.data.adapt_split import check_adapt_roles
from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.datasets import build_windows, for_target
from faultlab.data.splits import check_no_leakage, describe_split, make_splits
from faultlab.data.types import Recording, Split, WindowSet
from faultlab.data.windowing import make_windows
from faultlab.errors import ConfigError, DataError, LeakageError


def _ws(per_class: int = 1) -> WindowSet:
    """Recordings: classes normal/IR/B x loads 0/1 x ``per_class``; normal without fault_end."""
    recs = []
    rng = np.random.default_rng(0)
    for load in (0, 1):
        for cls in ("normal", "IR", "B"):
            for k in range(per_class):
                meta = {
                    "condition": "normal" if cls == "normal" else "fault",
                    "fault_location": None if cls == "normal" else cls,
                    "fault_diameter_in": None if cls == "normal" else 0.007,
                    "load_hp": load,
                    "fault_end": None if cls == "normal" else ("DE" if load == 0 else "FE"),
                }
                recs.append(
                    Recording(f"{cls}{load}{k}", rng.normal(size=(1, 1600)), 12000.0, ["DE"], meta)
                )
    return for_target(make_windows(recs, 100), "flat")


def _cfg(**kw) -> SplitConfig:
    return SplitConfig(
        **{"kind": "transfer", "column": "load_hp", "val": {"strategy": "none"}, **kw}
    )


def test_blocks_adapt_first_part_of_each_target_recording_and_test_the_rest():
    ws = _ws()
    folds = make_splits(ws, _cfg(adapt={"mode": "auto"}))
    assert len(folds) == 2
    for s in folds:
        assert s.adapt_mode == "blocks" and not s.transductive
        assert np.intersect1d(s.adapt, s.test).size == 0
        assert set(ws.recording_id[s.adapt]) == set(ws.recording_id[s.test])
        pos = ws.info["position"].to_numpy()
        for rid in np.unique(ws.recording_id[s.test]):
            a = pos[s.adapt][ws.recording_id[s.adapt] == rid]
            t = pos[s.test][ws.recording_id[s.test] == rid]
            assert a.max() < t.min() and len(a) == 8 and len(t) == 8  # contiguous halves
        assert any("first 50% of each target recording" in n for n in s.notes)
        assert "adapt" in describe_split(s, ws)
        assert Split.from_dict(s.to_dict(ws)).adapt.tolist() == s.adapt.tolist()


def test_recordings_mode_when_the_target_has_several_recordings_per_class():
    ws = _ws(per_class=2)
    (s,) = make_splits(ws, _cfg(folds=["load_hp 0 -> 1"], adapt={"mode": "auto"}))
    assert s.adapt_mode == "recordings"
    assert not set(ws.recording_id[s.adapt]) & set(ws.recording_id[s.test])
    assert set(ws.y["class"][s.test]) == set(ws.y["class"][s.adapt]) == {0, 1, 2}
    with pytest.raises(ConfigError, match="needs >= 2 target recordings"):
        make_splits(_ws(), _cfg(adapt={"mode": "recordings"}))


def test_transductive_is_explicit_and_labelled_and_overlap_is_otherwise_leakage():
    ws = _ws()
    (s,) = make_splits(ws, _cfg(folds=["load_hp 0 -> 1"], adapt={"mode": "transductive"}))
    assert s.transductive and s.adapt.tolist() == s.test.tolist()
    assert any("TRANSDUCTIVE" in n for n in s.notes)
    s.adapt_mode = "blocks"
    with pytest.raises(LeakageError, match="both adaptation and test"):
        check_adapt_roles(s, ws)
    s.adapt = s.train[:3]
    with pytest.raises(LeakageError, match="training recording"):
        check_adapt_roles(s, ws)
    with pytest.raises(ConfigError, match="needs a target domain"):
        make_splits(ws, SplitConfig(kind="group_kfold", n_splits=2, adapt={"mode": "auto"}))


def test_text_column_with_normal_recordings_and_unassigned_to_test():
    ws = _ws()
    (s,) = make_splits(
        ws,
        SplitConfig(
            kind="condition",
            column="fault_end",
            train=["DE"],
            test=["FE"],
            val={"strategy": "none"},
        ),
    )
    check_no_leakage(s, ws)
    assert set(ws.info["fault_end"].iloc[s.test].dropna()) == {"FE"}
    assert any("normal0" in n and "distributed" in n for n in s.notes)
    (s,) = make_splits(
        ws,
        SplitConfig(
            kind="condition",
            column="fault_end",
            train=["DE"],
            test=["FE"],
            unassigned="test",
            val={"strategy": "none"},
        ),
    )
    assert {"normal00", "normal10"} <= set(ws.recording_id[s.test])


def test_selectors_assign_normal_recordings_by_condition_and_several_columns():
    ws = _ws()
    cfg = SplitConfig(
        kind="condition",
        val={"strategy": "none"},
        train=[{"fault_end": "DE"}, {"condition": "normal", "load_hp": 0}],
        test=[{"fault_end": "FE"}, {"condition": "normal", "load_hp": [1]}],
    )
    (s,) = make_splits(ws, cfg)
    assert set(ws.recording_id[s.train]) == {"normal00", "IR00", "B00"}
    assert set(ws.recording_id[s.test]) == {"normal10", "IR10", "B10"}
    assert s.name.startswith("train {fault_end=DE}")
    folds = make_splits(
        ws,
        SplitConfig(
            kind="transfer",
            column=["load_hp", "fault_end"],
            val={"strategy": "none"},
            unassigned="drop",
        ),
    )
    assert [f.name for f in folds] == [
        "load_hp/fault_end 0/DE -> 1/FE",
        "load_hp/fault_end 1/FE -> 0/DE",
    ]
    with pytest.raises(ConfigError, match="match both train and test"):
        make_splits(ws, SplitConfig(kind="condition", column="load_hp", train=[0, 1], test=[1]))


def test_split_on_original_rate_and_mixed_rates_without_target_rate_is_an_error():
    a = Recording("a", np.zeros((1, 4800)), 12000.0, ["DE"], {"condition": "normal", "load_hp": 0})
    b = Recording("b", np.zeros((1, 19200)), 48000.0, ["DE"], {"condition": "normal", "load_hp": 0})
    with pytest.raises(DataError, match="different sampling rates .*target_rate"):
        make_windows([a, b], 100)
    ws = build_windows(
        DataConfig(
            dataset="synthetic",
            target_rate=12000,
            window=256,
            synthetic={"duration_s": 0.5, "sampling_rate": 24000, "loads": [0]},
        )
    )
    assert set(ws.info["original_rate_hz"]) == {24000.0} and set(ws.info["sampling_rate_hz"]) == {
        12000.0
    }


@pytest.mark.shared
def test_cwru_rate_split_12k_to_48k_and_nearest_channel(shared_data):
    ws = for_target(
        build_windows(
            DataConfig(
                data_dir=str(shared_data),
                channel="nearest",
                select={
                    "fault_end": "DE",
                    "sampling_rate_hz": [12000, 48000],
                    "fault_location": ["IR"],
                    "fault_diameter_in": [0.007],
                },
            )
        ),
        "flat",
    )
    assert ws.channels == ["nearest"] and set(ws.info["sensor_end"]) == {"DE"}
    (s,) = make_splits(
        ws,
        SplitConfig(
            kind="condition",
            column="sampling_rate_hz",
            train=[12000],
            test=[48000],
            unassigned="drop",
        ),
    )
    assert set(ws.info["original_rate_hz"].iloc[s.test]) == {48000}
    assert set(pd.unique(ws.recording_id[s.test])) <= {"97#b0", "97#b1", "97#b2", "97#b3"}
