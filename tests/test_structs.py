"""MATLAB structs in every reader (v5 via scipy, v7.3 via h5py), manifests that name struct
fields and bearings, config-relative manifest paths, and the bearing registry."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import yaml

from faultlab.data.bearings import BEARINGS, from_fields, resolve
from faultlab.data.readers import load_mat, read_manifest, read_recording
from faultlab.errors import DataError

RATE = 4096
N = 8192


def _signal(seed: int = 0, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _v5(path: Path, nested: bool = False) -> np.ndarray:
    gs = _signal()
    rig = {"bearing": {"gs": gs.reshape(-1, 1), "sr": float(RATE), "load": "25", "rate": 25.0}}
    if nested:
        rig = {"rig": {"sensors": rig, "name": "test"}}
    scipy.io.savemat(path, {**rig, "BPFO": 81.125})
    return gs


def _v73(path: Path, userblock: bool = True) -> np.ndarray:
    gs = _signal(1)
    with h5py.File(path, "w", userblock_size=512 if userblock else 0) as fh:
        grp = fh.create_group("bearing")
        grp.attrs["MATLAB_class"] = np.bytes_("struct")
        grp.create_dataset("gs", data=gs.reshape(1, -1))  # MATLAB stores columns transposed
        sr = grp.create_dataset("sr", data=np.array([[float(RATE)]]))
        sr.attrs["MATLAB_class"] = np.bytes_("double")
        load = grp.create_dataset("load", data=np.array([[ord(c)] for c in "50"], dtype=np.uint16))
        load.attrs["MATLAB_class"] = np.bytes_("char")
        inner = grp.create_group("meta")
        inner.attrs["MATLAB_class"] = np.bytes_("struct")
        inner.create_dataset("shaft", data=np.array([[25.0]]))
    return gs


def test_v5_struct_fields_are_flattened(tmp_path: Path) -> None:
    gs = _v5(tmp_path / "a.mat")
    v = load_mat(tmp_path / "a.mat")
    assert set(v) == {"bearing.gs", "bearing.sr", "bearing.load", "bearing.rate", "BPFO"}
    assert float(v["bearing.load"].ravel()[0]) == 25.0  # a number stored as text
    np.testing.assert_allclose(v["bearing.gs"].ravel(), gs)
    _v5(tmp_path / "n.mat", nested=True)
    assert "rig.sensors.bearing.gs" in load_mat(tmp_path / "n.mat")


@pytest.mark.parametrize(
    "maker",
    [_v5, _v73, lambda p: _v73(p, userblock=False)],
    ids=["v5", "v7.3", "hdf5-no-userblock"],
)
def test_struct_key_and_rate(tmp_path: Path, maker) -> None:
    path = tmp_path / "rec.mat"
    gs = maker(path)
    for key in ("bearing.gs", "gs", "bearing", None):  # field, unique field name, struct, auto
        rec = read_recording(path, key=key)
        assert rec.sampling_rate == RATE and rec.meta["rate_key"] == "bearing.sr"
        assert rec.meta["key"] == "bearing.gs" and rec.n_samples == N
        np.testing.assert_allclose(rec.signal[0], gs.astype(np.float32))
    assert read_recording(path, key="bearing.gs", sampling_rate="bearing.sr").sampling_rate == RATE
    assert read_recording(path, channels=["gs"]).channels == ["gs"]
    with pytest.raises(DataError, match=r"struct 'bearing' has no field 'acc'; fields: .*gs.*sr"):
        read_recording(path, key="bearing.acc")
    with pytest.raises(DataError, match=r"no variable 'acc'; keys present: \[.*'bearing.gs'"):
        read_recording(path, key="acc")


def test_v73_nested_struct_and_char(tmp_path: Path) -> None:
    _v73(tmp_path / "x.mat")
    v = load_mat(tmp_path / "x.mat")
    assert v["bearing.gs"].shape == (N, 1)
    assert float(v["bearing.load"].ravel()[0]) == 50.0
    assert float(v["bearing.meta.shaft"].ravel()[0]) == 25.0


def test_largest_vector_of_a_struct_is_the_signal(tmp_path: Path) -> None:
    scipy.io.savemat(
        tmp_path / "s.mat",
        {"d": {"acc": _signal(n=N).reshape(-1, 1), "tacho": _signal(n=100), "fs": 1000.0}},
    )
    rec = read_recording(tmp_path / "s.mat")
    assert rec.meta["key"] == "d.acc" and rec.sampling_rate == 1000.0


def test_manifest_with_struct_fields_and_bearings(tmp_path: Path) -> None:
    _v5(tmp_path / "ir.mat")
    _v73(tmp_path / "or.mat")
    (tmp_path / "m.csv").write_text(
        "path,key,sampling_rate,fault_location,load,load_unit,shaft_hz,bearing,"
        "n_balls,ball_diameter,pitch_diameter,contact_angle\n"
        "ir.mat,bearing.gs,bearing.sr,IR,25,lbs,25,NICE,,,,\n"
        "or.mat,gs,,OR,50,lbs,25,,8,0.235,1.245,0\n"
    )
    a, b = read_manifest(tmp_path / "m.csv")
    assert a.meta["bearing"] == "NICE" and a.meta["rpm"] == 1500.0 and a.meta["load"] == 25.0
    assert b.meta["bearing"] == "n_balls=8,ball_diameter=0.235,pitch_diameter=1.245,contact_angle=0"
    assert resolve(b.meta["bearing"]).orders() == pytest.approx(BEARINGS["NICE"].orders())
    assert a.sampling_rate == b.sampling_rate == RATE and a.meta["condition"] == "fault"
    (tmp_path / "bad.csv").write_text("path,key,bearing\nir.mat,gs,6999\n")
    with pytest.raises(DataError, match="bad.csv row 1: unknown bearing '6999'"):
        read_manifest(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("path,key,n_balls,ball_diameter\nir.mat,gs,8,0.2\n")
    with pytest.raises(DataError, match="bearing geometry lacks 'pitch_diameter'"):
        read_manifest(tmp_path / "bad2.csv")


def test_bearing_specs() -> None:
    assert resolve("nice") is BEARINGS["NICE"] and resolve("6205") is BEARINGS["6205"]
    geom = from_fields({"n_elements": 9, "ball_diameter_in": 0.3126, "pitch_diameter": 1.537})
    assert resolve(geom.spec()).orders() == pytest.approx(BEARINGS["6205"].orders())
    with pytest.raises(DataError, match="ball diameter must be smaller"):
        from_fields({"n_balls": 8, "ball_diameter": 2, "pitch_diameter": 1})


def test_config_manifest_paths_are_relative_to_the_config(tmp_path: Path, monkeypatch) -> None:
    from faultlab.experiments.config import ExperimentConfig, load_yaml, parse_config

    (tmp_path / "cfgdir" / "data").mkdir(parents=True)
    _v5(tmp_path / "cfgdir" / "data" / "ir.mat")
    (tmp_path / "cfgdir" / "data" / "m.csv").write_text(
        "path,key,fault_location,bearing\nir.mat,bearing.gs,IR,NICE\n"
    )
    cfg_path = tmp_path / "cfgdir" / "exp.yaml"
    cfg_path.write_text(yaml.safe_dump({"data": {"dataset": "files", "manifest": "data/m.csv"}}))
    monkeypatch.chdir(tmp_path)  # the working directory is NOT the config's folder
    cfg = parse_config(ExperimentConfig, load_yaml(cfg_path), str(cfg_path))
    assert Path(cfg.data.manifest) == tmp_path / "cfgdir" / "data" / "m.csv"
    assert read_manifest(cfg.data.manifest)[0].meta["bearing"] == "NICE"
