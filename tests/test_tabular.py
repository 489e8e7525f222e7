"""Tabular loader and Standardiser on the real steel-plates CSV and on small bad CSVs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultlab.data.tabular import (
    NotFittedError,
    Standardiser,
    detect_label_columns,
    from_config,
    load_table,
)
from faultlab.errors import ConfigError, DataError, FaultlabError

STEEL_LABELS = [
    "Pastry_Fault",
    "Z_Scratch_Fault",
    "K_Scatch_Fault",
    "Stains_Fault",
    "Dirtiness_Fault",
    "Bumps_Fault",
    "Other_Faults",
]


@pytest.fixture(scope="module")
def steel(steel_csv):
    return load_table(steel_csv)


def test_steel_plates_autodetects_seven_onehot_classes(steel, steel_csv):
    raw = pd.read_csv(steel_csv)
    assert steel.X.shape == (1941, 1, 27) and steel.X.dtype == np.float32
    assert steel.classes == {"label": STEEL_LABELS}
    assert steel.y["label"].dtype == np.int64
    expected = {c: int(raw[c].sum()) for c in STEEL_LABELS}
    assert steel.class_counts("label") == expected
    assert max(expected, key=expected.get) == "Other_Faults"
    assert sum(expected.values()) == 1941
    # the one-hot TypeOfSteel columns are binary too but not trailing: they stay features
    assert "TypeOfSteel_A300" in steel.feature_names and len(steel.feature_names) == 27
    assert steel.feature_names == [c for c in raw.columns if c not in STEEL_LABELS]
    np.testing.assert_allclose(
        steel.X[:, 0, :], raw[steel.feature_names].to_numpy(dtype=np.float32)
    )
    assert steel.sampling_rate is None and steel.channels == ["features"]


def test_each_row_is_its_own_group_and_info(steel, steel_csv):
    raw = pd.read_csv(steel_csv)
    assert steel.recording_id[17] == "row-17" and len(set(steel.recording_id)) == 1941
    assert list(steel.info["recording_id"][:2]) == ["row-0", "row-1"]
    names = raw[STEEL_LABELS].idxmax(axis=1)
    assert (steel.info["label"] == names).all()
    assert (np.asarray(STEEL_LABELS)[steel.y["label"]] == names.to_numpy()).all()


def test_explicit_onehot_columns_and_from_config(steel, steel_csv):
    ws = load_table(steel_csv, label_columns=STEEL_LABELS)
    np.testing.assert_array_equal(ws.y["label"], steel.y["label"])
    ws2 = from_config({"path": "steel-plates/steel_plates_faults.csv"})  # via FAULTLAB_DATA_DIR
    np.testing.assert_array_equal(ws2.X, steel.X)
    with pytest.raises(ConfigError, match=r"data\.table\.labels"):
        from_config({"path": str(steel_csv), "labels": "x"})


def test_standardiser_fitted_on_train_only(steel):
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(steel))
    train, test = steel.subset(idx[:1400]), steel.subset(idx[1400:])
    sc = Standardiser().fit(train)
    tr, te = sc.transform(train), sc.transform(test)
    assert tr.X.dtype == np.float32 and tr.X.shape == train.X.shape
    np.testing.assert_allclose(tr.X.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(tr.X.std(axis=0), 1, atol=1e-3)
    # the test rows are scaled with the train statistics, so they are not exactly 0/1
    assert np.abs(te.X.mean(axis=0)).max() > 0.01
    assert np.abs(te.X.std(axis=0) - 1).max() > 0.01
    # and refitting on test would give different statistics
    assert not np.allclose(Standardiser().fit(test).mean, sc.mean)
    # labels/ids untouched
    np.testing.assert_array_equal(te.y["label"], test.y["label"])
    np.testing.assert_array_equal(te.recording_id, test.recording_id)


def test_standardiser_roundtrip_zero_variance_and_not_fitted():
    # [4 windows, 2 channels, 6 positions]: channel 0 varies across windows, channel 1 is constant
    X = np.zeros((4, 2, 6))
    X[:, 0, :] = np.arange(4.0)[:, None] + np.arange(6.0)
    X[:, 1, :] = 5.0
    sc = Standardiser(per="position")
    with pytest.raises(NotFittedError, match="before fit"):
        sc.transform(X)
    with pytest.raises(FaultlabError):
        sc.to_dict()
    out = sc.fit_transform(X)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, 1, :], 0.0)  # constant channel: std 1, becomes 0
    again = Standardiser.from_dict(sc.to_dict())
    np.testing.assert_array_equal(again.transform(X), out)
    per_channel = Standardiser(per="channel").fit(X)
    assert per_channel.mean.shape == (2, 1)
    with pytest.raises(DataError, match="fitted on windows"):
        sc.transform(X[:, :, :3])
    with pytest.raises(ConfigError, match="missing key"):
        Standardiser.from_dict({"per": "position"})


# ---------------------------------------------------------------- small CSVs, good and bad


def _write(tmp_path, text: str, name: str = "t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_single_label_column_strings_and_ints(tmp_path):
    p = _write(tmp_path, "a,b,kind\n1,2,wear\n3,4,crack\n5,6,wear\n")
    ws = load_table(p)  # last column, not binary -> single label column
    assert ws.classes["label"] == ["crack", "wear"]
    assert ws.y["label"].tolist() == [1, 0, 1]
    assert ws.X.shape == (3, 1, 2) and ws.feature_names == ["a", "b"]
    p2 = _write(tmp_path, "id,code,a,b\np1,3,1.5,2\np1,1,3,4\np2,3,5,6\n", "ints.csv")
    ws2 = load_table(p2, label_columns="code", id_column="id")
    assert ws2.classes["label"] == ["1", "3"] and ws2.y["label"].tolist() == [1, 0, 1]
    assert ws2.feature_names == ["a", "b"]
    assert ws2.recording_id.tolist() == ["p1", "p1", "p2"]


def test_autodetect_rule_prefers_trailing_onehot_block(tmp_path):
    df = pd.DataFrame({"x": [0.1, 0.2, 0.3], "flag": [1, 0, 1], "A": [1, 0, 0], "B": [0, 1, 1]})
    # flag is binary and trailing-adjacent, but including it breaks "exactly one 1"
    assert detect_label_columns(df) == ["A", "B"]
    df1 = pd.DataFrame({"x": [0.1, 0.2], "y": [1, 0]})
    assert detect_label_columns(df1) == ["y"]  # a single 0/1 column is a binary label


def test_error_file_missing(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_table(p)


def test_error_label_column_missing(tmp_path):
    p = _write(tmp_path, "a,b,kind\n1,2,x\n")
    with pytest.raises(DataError, match=r"t\.csv: label column 'fault' not found"):
        load_table(p, label_columns="fault")


def test_error_onehot_row_with_several_labels(tmp_path):
    p = _write(tmp_path, "a,b,P,Q,R\n1,2,1,0,0\n3,4,0,1,0\n5,6,1,0,1\n")
    with pytest.raises(DataError, match=r"t\.csv: row 2 \(line 4\) has 2 one-hot labels \(P, R\)"):
        load_table(p, label_columns=["P", "Q", "R"])
    # autodetect sees the broken block and says which row
    with pytest.raises(DataError, match=r"row 2 \(line 4\) has 2 ones"):
        load_table(p)


def test_error_onehot_row_with_no_label(tmp_path):
    p = _write(tmp_path, "a,b,P,Q\n1,2,1,0\n3,4,0,0\n")
    with pytest.raises(DataError, match=r"t\.csv: row 1 \(line 3\) has 0 one-hot labels"):
        load_table(p, label_columns=["P", "Q"])


def test_error_onehot_value_not_binary(tmp_path):
    p = _write(tmp_path, "a,P,Q\n1,1,0\n3,0,2\n")
    with pytest.raises(DataError, match=r"column 'Q' has value 2 at row 1"):
        load_table(p, label_columns=["P", "Q"])


def test_error_non_numeric_feature(tmp_path):
    p = _write(tmp_path, "a,b,kind\n1,2,x\n3,oops,y\n")
    with pytest.raises(
        DataError, match=r"t\.csv: feature column 'b' is not numeric \(value 'oops' at row 1"
    ):
        load_table(p)


def test_error_nan_feature(tmp_path):
    p = _write(tmp_path, "a,b,kind\n1,2,x\n3,,y\n")
    with pytest.raises(DataError, match=r"t\.csv: feature column 'b' has NaN \(empty\) at row 1"):
        load_table(p)


def test_error_misc(tmp_path):
    with pytest.raises(DataError, match="file is empty"):
        load_table(_write(tmp_path, "", "empty.csv"))
    with pytest.raises(DataError, match="id column 'pid' not found"):
        load_table(_write(tmp_path, "a,k\n1,x\n"), id_column="pid")
    with pytest.raises(DataError, match="non-integer value 0.5"):
        load_table(_write(tmp_path, "a,k\n1,1\n2,0.5\n"))
    with pytest.raises(DataError, match="label column 'k' is empty at row 1"):
        load_table(_write(tmp_path, "a,k\n1,x\n2,\n"))
