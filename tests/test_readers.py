"""Readers on the shared CWRU files, on files with the public quirks, and on bad input."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import yaml

from faultlab.data.datasets.cwru import read_cwru
from faultlab.data.readers import load_mat, read_manifest, read_recording
from faultlab.data.types import META_KEYS
from faultlab.errors import DataError


@pytest.fixture
def manifest(cwru_dir: Path) -> pd.DataFrame:
    return pd.read_csv(cwru_dir / "MANIFEST.csv", keep_default_na=False).set_index("file")


@pytest.fixture
def own_cwru(tmp_path: Path) -> Path:
    """A data dir whose cwru/ folder the test fills with crafted files."""
    (tmp_path / "cwru").mkdir()
    return tmp_path


def _col(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1, 1)  # CWRU stores column vectors


# ------------------------------------------------------------------ shared CWRU files
@pytest.mark.parametrize("file", [97, 105, 237])
def test_read_cwru_shared_files(file: int, cwru_dir: Path, manifest: pd.DataFrame) -> None:
    rec = read_cwru(file)  # FAULTLAB_DATA_DIR points at the shared data
    m = manifest.loc[f"{file}.mat"]
    assert rec.recording_id == str(file)
    assert rec.signal.dtype == np.float32 and rec.signal.shape == (1, int(m["n_samples"]))
    assert rec.channels == ["DE"]
    assert rec.sampling_rate == float(m["sampling_rate_hz"])
    for key in META_KEYS:
        assert key in rec.meta
    assert rec.meta["dataset"] == "cwru" and rec.meta["source"] == str(cwru_dir / f"{file}.mat")
    assert rec.meta["condition"] == m["condition"]
    assert (rec.meta["fault_location"] or "") == m["fault_location"]
    assert rec.meta["load_hp"] == int(m["load_hp"])
    assert rec.meta["rpm"] == float(m["rpm_recorded"]) and rec.meta["rpm_source"] == "file"
    assert rec.meta["rpm_nominal"] == float(m["motor_rpm_nominal"])
    assert rec.meta["sensor_end"] == "DE" and (rec.meta["fault_end"] or "") == m["sensor_end"]
    assert rec.meta["key"] == f"X{file:03d}_DE_time"
    raw = scipy.io.loadmat(cwru_dir / f"{file}.mat")[f"X{file:03d}_DE_time"].ravel()
    np.testing.assert_allclose(rec.signal[0], raw.astype(np.float32))
    assert all(np.isscalar(v) or v is None for v in rec.meta.values())


def test_read_cwru_several_channels(cwru_dir: Path) -> None:
    rec = read_cwru(105, channels=("de", "FE", "BA"))
    assert rec.channels == ["DE", "FE", "BA"] and rec.signal.shape == (3, 121265)
    assert rec.meta["sensor_end"] == "DE+FE+BA"
    assert rec.meta["key"] == "X105_DE_time,X105_FE_time,X105_BA_time"
    assert not np.allclose(rec.signal[0], rec.signal[1])
    with pytest.raises(
        DataError, match=r"97\.mat: no variable ending in '_BA_time' .*X097_DE_time"
    ):
        read_cwru(97, channels=("DE", "BA"))
    with pytest.raises(DataError, match="unknown CWRU channel"):
        read_cwru(105, channels="XY")


def test_read_cwru_explicit_data_dir(cwru_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAULTLAB_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataError) as err:
        read_cwru(105)
    assert "CWRU file 105 not found" in str(err.value) and "--files 105" in str(err.value)
    assert read_cwru(105, data_dir=cwru_dir.parent).n_samples == 121265


def test_read_cwru_download_flag_fetches(cwru_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAULTLAB_CWRU_URL", cwru_dir.as_uri() + "/{file}.mat")
    rec = read_cwru(118, data_dir=tmp_path, download=True)
    assert (tmp_path / "cwru" / "118.mat").is_file() and rec.meta["name"] == "B007_0"


def test_unknown_file_number() -> None:
    with pytest.raises(DataError, match="CWRU file 4242 is not in the catalogue"):
        read_cwru(4242)


# ------------------------------------------------------------------ the public quirks
def test_prefix_not_matching_file_number(own_cwru: Path) -> None:
    rng = np.random.default_rng(0)
    de, fe = rng.normal(size=(2, 500))
    scipy.io.savemat(
        own_cwru / "cwru" / "174.mat",
        {"X173_DE_time": _col(de), "X173_FE_time": _col(fe), "X173RPM": np.array([[1796.0]])},
    )
    rec = read_cwru(174, data_dir=own_cwru, channels=("DE", "FE"))
    assert rec.meta["key"] == "X173_DE_time,X173_FE_time" and rec.meta["series_set"] == "X173"
    np.testing.assert_allclose(rec.signal, np.stack([de, fe]).astype(np.float32))
    assert rec.meta["rpm"] == 1796.0 and rec.sampling_rate == 48000.0


def test_de_only_file_without_rpm(own_cwru: Path) -> None:
    scipy.io.savemat(own_cwru / "cwru" / "3005.mat", {"X048_DE_time": _col(np.arange(300.0))})
    rec = read_cwru(3005, data_dir=own_cwru)
    assert rec.meta["key"] == "X048_DE_time"
    assert rec.meta["rpm"] == 1797.0 and rec.meta["rpm_source"] == "nominal"
    with pytest.raises(DataError) as err:
        read_cwru(3005, data_dir=own_cwru, channels="FE")
    msg = str(err.value)
    assert "3005.mat" in msg and "'_FE_time'" in msg and "X048_DE_time" in msg


def test_two_series_sets_prefers_the_file_number(own_cwru: Path) -> None:
    scipy.io.savemat(
        own_cwru / "cwru" / "99.mat",
        {
            "ans": np.array([[1.0]]),
            "X098_DE_time": _col(np.zeros(400)),
            "X098_FE_time": _col(np.zeros(400)),
            "X099_DE_time": _col(np.ones(410)),
            "X099_FE_time": _col(np.full(410, 2.0)),
        },
    )
    rec = read_cwru(99, data_dir=own_cwru, channels=("DE", "FE"))
    assert rec.meta["key"] == "X099_DE_time,X099_FE_time"
    assert rec.signal.shape == (2, 410) and rec.signal[1, 0] == 2.0
    assert rec.meta["rpm_source"] == "nominal" and rec.meta["rpm"] == 1750.0


def _write_v73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3-style file: 512-byte user block, column-major (transposed) datasets."""
    with h5py.File(path, "w", userblock_size=512) as fh:
        for name, value in variables.items():
            fh.create_dataset(name, data=np.asarray(value).T)
    with path.open("r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .")


def test_matlab_v73_files(own_cwru: Path) -> None:
    de = np.sin(np.linspace(0, 20, 1000))
    _write_v73(
        own_cwru / "cwru" / "105.mat",
        {"X105_DE_time": _col(de), "X105RPM": np.array([[1790.0]])},
    )
    variables = load_mat(own_cwru / "cwru" / "105.mat")
    assert variables["X105_DE_time"].shape == (1000, 1)
    rec = read_cwru(105, data_dir=own_cwru)
    np.testing.assert_allclose(rec.signal[0], de.astype(np.float32))
    assert rec.meta["rpm"] == 1790.0
    path = own_cwru / "cwru" / "105.mat"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"105\.mat: not a readable MATLAB v7\.3 \(HDF5\) file"):
        read_cwru(105, data_dir=own_cwru)


# ------------------------------------------------------------------ bad CWRU input
def test_corrupt_file(own_cwru: Path) -> None:
    path = own_cwru / "cwru" / "105.mat"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(DataError, match=r"105\.mat: not a readable \.mat file"):
        read_cwru(105, data_dir=own_cwru)


def test_truncated_file(own_cwru: Path, cwru_dir: Path) -> None:
    data = (cwru_dir / "105.mat").read_bytes()
    path = own_cwru / "cwru" / "105.mat"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DataError, match=r"105\.mat: not a readable \.mat file \(corrupt or truncated"
    ):
        read_cwru(105, data_dir=own_cwru)
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"105\.mat: file is empty"):
        read_cwru(105, data_dir=own_cwru)


def test_missing_channel(own_cwru: Path) -> None:
    scipy.io.savemat(own_cwru / "cwru" / "118.mat", {"X118_FE_time": _col(np.ones(10))})
    with pytest.raises(DataError) as err:
        read_cwru(118, data_dir=own_cwru)
    msg = str(err.value)
    assert "118.mat" in msg and "'_DE_time'" in msg and "X118_FE_time" in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf(own_cwru: Path, bad: float) -> None:
    x = np.ones(100)
    x[37] = bad
    scipy.io.savemat(own_cwru / "cwru" / "130.mat", {"X130_DE_time": _col(x)})
    with pytest.raises(
        DataError, match=r"130\.mat: 'X130_DE_time' has 1 NaN/inf value\(s\) \(first at sample 37\)"
    ):
        read_cwru(130, data_dir=own_cwru)


def test_empty_series(own_cwru: Path) -> None:
    scipy.io.savemat(
        own_cwru / "cwru" / "131.mat",
        {"X131_DE_time": np.zeros((0, 1)), "X131_FE_time": _col(np.ones(5))},
    )
    with pytest.raises(DataError, match=r"131\.mat: variable 'X131_DE_time' is empty"):
        read_cwru(131, data_dir=own_cwru)
    assert read_cwru(131, data_dir=own_cwru, channels="FE").n_samples == 5


# ------------------------------------------------------------------ a user's own files
def test_npy_orientation_rule(tmp_path: Path) -> None:
    x = np.random.default_rng(2).normal(size=(3, 500))
    np.save(tmp_path / "cn.npy", x)
    np.save(tmp_path / "nc.npy", x.T)
    np.save(tmp_path / "one.npy", x[0])
    a = read_recording(tmp_path / "cn.npy", sampling_rate=1000)
    b = read_recording(tmp_path / "nc.npy", sampling_rate=1000, channels=["x", "y", "z"])
    c = read_recording(tmp_path / "one.npy", sampling_rate=1000, channels=[0])
    np.testing.assert_allclose(a.signal, b.signal)
    assert a.channels == ["ch0", "ch1", "ch2"] and b.channels == ["x", "y", "z"]
    assert c.signal.shape == (1, 500) and a.recording_id == "cn"
    d = read_recording(tmp_path / "nc.npy", sampling_rate=1000, channels=[2])
    np.testing.assert_allclose(d.signal[0], x[2].astype(np.float32))
    np.save(tmp_path / "square.npy", np.zeros((40, 50)))
    with pytest.raises(DataError, match=r"square\.npy: array has shape \(40, 50\)"):
        read_recording(tmp_path / "square.npy", sampling_rate=1000)


def test_missing_sampling_rate(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones(100))
    with pytest.raises(DataError, match=r"x\.npy: no sampling rate"):
        read_recording(tmp_path / "x.npy")


def test_csv_channels_time_column_and_headerless(tmp_path: Path) -> None:
    t = np.arange(200) / 2000.0
    df = pd.DataFrame({"time": t, "acc_x": np.sin(t), "acc_y": np.cos(t), "label": "ok"})
    df.to_csv(tmp_path / "rec.csv", index=False)
    rec = read_recording(tmp_path / "rec.csv")
    assert rec.channels == ["acc_x", "acc_y"] and math.isclose(rec.sampling_rate, 2000.0)
    assert rec.meta["ignored_columns"] == "label"
    only_y = read_recording(tmp_path / "rec.csv", channels="acc_y", sampling_rate=500)
    assert only_y.channels == ["acc_y"] and only_y.sampling_rate == 500.0
    with pytest.raises(DataError, match=r"rec\.csv: no column 'acc_z'"):
        read_recording(tmp_path / "rec.csv", channels=["acc_z"])
    np.savetxt(tmp_path / "raw.csv", np.ones((50, 2)), delimiter=",")
    raw = read_recording(tmp_path / "raw.csv", sampling_rate=100)
    assert raw.channels == ["ch0", "ch1"] and raw.n_samples == 50


def test_csv_nan_names_column(tmp_path: Path) -> None:
    (tmp_path / "gap.csv").write_text("a,b\n1,2\n3,\n5,6\n")
    with pytest.raises(
        DataError, match=r"gap\.csv: 'b' has 1 NaN/inf value\(s\) \(first at sample 1\)"
    ):
        read_recording(tmp_path / "gap.csv", sampling_rate=10)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: not a readable CSV file"):
        read_recording(tmp_path / "empty.csv", sampling_rate=10)


def test_generic_mat(tmp_path: Path, cwru_dir: Path) -> None:
    scipy.io.savemat(
        tmp_path / "rig.mat", {"vib": _col(np.arange(64.0)), "fs": np.array([[25600.0]])}
    )
    rec = read_recording(tmp_path / "rig.mat")
    assert rec.channels == ["vib"] and rec.sampling_rate == 25600.0 and rec.n_samples == 64
    with pytest.raises(
        DataError, match=r"rig\.mat: no variable 'acc'; keys present: \['fs', 'vib'\]"
    ):
        read_recording(tmp_path / "rig.mat", key="acc")
    # a CWRU file read as a user's own file: suffix channels, explicit rate
    shutil.copyfile(cwru_dir / "105.mat", tmp_path / "mine.mat")
    own = read_recording(tmp_path / "mine.mat", sampling_rate=12000)
    assert own.channels == ["DE", "FE", "BA"] and own.meta["rpm"] == 1797.0
    fe = read_recording(tmp_path / "mine.mat", channels="FE", sampling_rate=12000)
    assert fe.meta["key"] == "X105_FE_time"
    with pytest.raises(DataError, match=r"unsupported file type '\.wav'"):
        read_recording(tmp_path / "x.wav", sampling_rate=1)


# ------------------------------------------------------------------ manifests
def _signals(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(3)
    np.save(folder / "healthy.npy", rng.normal(size=1000))
    np.save(folder / "inner.npy", rng.normal(size=(2, 1000)))
    pd.DataFrame({"x": rng.normal(size=300)}).to_csv(folder / "outer.csv", index=False)


def test_csv_manifest(tmp_path: Path) -> None:
    _signals(tmp_path / "sig")
    (tmp_path / "list.csv").write_text(
        "path,sampling_rate,channels,condition,fault_location,fault_diameter_in,load_hp,rpm,machine\n"
        "sig/healthy.npy,20000,,normal,,,0,1500,pump-1\n"
        "sig/inner.npy,20000,0;1,,IR,0.2,1,1480,pump-2\n"
        "sig/outer.csv,10000,x,fault,OR,0.4,2,,pump-2\n"
    )
    recs = read_manifest(tmp_path / "list.csv")
    assert [r.recording_id for r in recs] == ["healthy", "inner", "outer"]
    assert [r.signal.shape for r in recs] == [(1, 1000), (2, 1000), (1, 300)]
    h, i, o = (r.meta for r in recs)
    assert h["condition"] == "normal" and h["fault_location"] is None and h["rpm"] == 1500.0
    assert i["condition"] == "fault" and i["fault_diameter_in"] == 0.2 and i["load_hp"] == 1.0
    assert o["rpm"] is None and o["machine"] == "pump-2" and recs[2].sampling_rate == 10000.0
    assert h["source"] == str(tmp_path / "list.csv").replace("list.csv", "sig/healthy.npy")


def test_yaml_manifest_with_defaults(tmp_path: Path) -> None:
    _signals(tmp_path / "sig")
    doc = {
        "defaults": {"sampling_rate": 20000, "load_hp": 0},
        "recordings": [
            {"path": "sig/healthy.npy", "condition": "normal", "id": "h0"},
            {"path": "sig/inner.npy", "fault_location": "IR", "channels": [1], "severity": "mild"},
        ],
    }
    (tmp_path / "list.yaml").write_text(yaml.safe_dump(doc))
    recs = read_manifest(tmp_path / "list.yaml")
    assert [r.recording_id for r in recs] == ["h0", "inner"]
    assert recs[1].signal.shape == (1, 1000) and recs[1].meta["severity"] == "mild"
    assert all(r.sampling_rate == 20000.0 and r.meta["load_hp"] == 0.0 for r in recs)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "path,sampling_rate\nsig/missing.npy,100\n",
            r"list\.csv row 1: file 'sig/missing\.npy' not found",
        ),
        (
            "path,sampling_rate\nsig/healthy.npy,fast\n",
            r"list\.csv row 1: sampling_rate 'fast' is not a number",
        ),
        ("path\nsig/healthy.npy\n", r"list\.csv row 1: .*healthy\.npy: no sampling rate"),
        (
            "path,sampling_rate,load_hp\nsig/healthy.npy,100,x\n",
            r"row 1: load_hp 'x' is not a number",
        ),
        ("sampling_rate\n100\n", r"list\.csv row 1: no 'path'"),
        ("path,sampling_rate\n", r"list\.csv: manifest lists no recordings"),
        (
            "path,sampling_rate\nsig/healthy.npy,100\nsig/healthy.npy,100\n",
            r"recording ids \['healthy'\] repeat",
        ),
    ],
)
def test_bad_manifests(tmp_path: Path, body: str, message: str) -> None:
    _signals(tmp_path / "sig")
    (tmp_path / "list.csv").write_text(body)
    with pytest.raises(DataError, match=message):
        read_manifest(tmp_path / "list.csv")
