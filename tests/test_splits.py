"""Splits on the real CWRU data: fold counts, leakage checks, protocols."""

import numpy as np
import pytest

from faultlab.data.build import build_windows, for_target
from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.splits import check_no_leakage, describe_split, make_splits
from faultlab.errors import ConfigError, LeakageError


@pytest.fixture(scope="module")
def cwru(shared_data):
    return build_windows(DataConfig(data_dir=str(shared_data)))


def test_cwru_windows_cover_37_files_and_10_classes(cwru):
    assert len(cwru.classes["class"]) == 10
    assert cwru.X.shape[1:] == (1, 1024)
    # 36 fault files + the 48 kHz normal file resampled to 12 kHz and cut into 4 blocks
    assert len(np.unique(cwru.recording_id)) == 40
    assert sorted(r for r in np.unique(cwru.recording_id) if r.startswith("97")) == [
        "97#b0",
        "97#b1",
        "97#b2",
        "97#b3",
    ]
    assert any("single recording (97)" in n for n in cwru.notes)
    assert cwru.sampling_rate == 12_000


def test_leave_one_load_out_has_four_disjoint_folds(cwru):
    folds = make_splits(cwru, SplitConfig(kind="leave_one_out", column="load_hp"))
    assert [f.name for f in folds] == [f"test load_hp {i}" for i in range(4)]
    for f in folds:
        check_no_leakage(f, cwru)
        test_loads = set(cwru.info["load_hp"].iloc[f.test])
        assert len(test_loads) == 1
        assert test_loads.isdisjoint(set(cwru.info["load_hp"].iloc[f.train]))
        assert len(np.unique(cwru.recording_id[f.test])) == 10  # 9 faults + 1 normal block
        assert len(f.val) > 0 and set(f.val).isdisjoint(f.train)
        assert "windows from" in describe_split(f, cwru)


def test_random_window_split_is_marked_leaky_and_caught_when_disjoint_required(cwru):
    with pytest.warns(UserWarning, match="LEAKY"):
        (leaky,) = make_splits(cwru, SplitConfig(kind="random_window"))
    assert leaky.leaky and any("inflated" in n for n in leaky.notes)
    with pytest.raises(LeakageError, match="recording\\(s\\) feed both training and test"):
        check_no_leakage(leaky, cwru)
    with pytest.raises(LeakageError), pytest.warns(UserWarning):
        make_splits(cwru, SplitConfig(kind="random_window", disjoint=True))


def test_held_out_fault_size_tests_an_unseen_bearing(cwru):
    ws = for_target(cwru, "location")
    assert "normal" not in set(ws.info["condition"])
    (s,) = make_splits(
        ws,
        SplitConfig(
            kind="condition", column="fault_diameter_in", train=[0.007, 0.014], test=[0.021]
        ),
    )
    assert set(ws.info["fault_diameter_in"].iloc[s.test]) == {0.021}
    assert set(ws.info["fault_diameter_in"].iloc[s.train]) == {0.007, 0.014}


def test_transfer_gives_twelve_ordered_load_pairs(cwru):
    folds = make_splits(cwru, SplitConfig(kind="transfer", column="load_hp"))
    assert len(folds) == 12 and folds[0].name == "load_hp 0 -> 1"


def test_group_kfold_and_recording_holdout_are_disjoint(cwru):
    folds = make_splits(cwru, SplitConfig(kind="group_kfold", n_splits=4))
    assert len(folds) == 4
    all_test = np.concatenate([f.test for f in folds])
    assert len(all_test) == len(np.unique(all_test)) == len(cwru)
    (r,) = make_splits(cwru, SplitConfig(kind="recording", test_fraction=0.25))
    check_no_leakage(r, cwru)


def test_validation_by_recordings_and_fold_filter(cwru):
    cfg = SplitConfig(
        kind="leave_one_out", folds=["3"], val={"strategy": "recordings", "fraction": 0.34}
    )
    (f,) = make_splits(cwru, cfg)
    assert f.name == "test load_hp 3"
    assert set(cwru.recording_id[f.val]).isdisjoint(cwru.recording_id[f.train])


def test_bad_split_config_names_the_value(cwru):
    with pytest.raises(ConfigError, match="split column 'speed'"):
        make_splits(cwru, SplitConfig(kind="leave_one_out", column="speed"))
    with pytest.raises(ConfigError, match="folds \\['9'\\] match none"):
        make_splits(cwru, SplitConfig(kind="leave_one_out", folds=["9"]))


def test_condition_validation_on_a_list_column_needs_val_column():
    """Holding out one value of a column combination is undefined: a ConfigError naming
    val.column, not a TypeError from inside pandas."""
    syn = {"duration_s": 0.5, "locations": ["IR"], "sizes": [0.007, 0.014]}
    ws = build_windows(DataConfig(dataset="synthetic", window=256, synthetic=syn))
    rule = {
        "kind": "condition",
        "column": ["load_hp", "fault_diameter_in"],
        "train": [{"load_hp": [0, 1]}],
        "test": [{"load_hp": [2, 3]}],
    }
    with pytest.raises(ConfigError, match="set val.column"):
        make_splits(ws, SplitConfig(**rule, val={"strategy": "condition"}))
    splits = make_splits(
        ws, SplitConfig(**rule, val={"strategy": "condition", "column": "load_hp"})
    )
    assert len(splits) == 1 and len(splits[0].val) > 0
