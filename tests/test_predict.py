"""``faultlab predict`` and the preprocessing replay, on real CWRU files and synthetic signals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultlab.cli import main
from faultlab.data.resample import resample_signal
from faultlab.errors import ConfigError, DataError
from faultlab.serving.predict import Predictor, verdicts
from faultlab.serving.preprocess import Preprocessing, load_input, prepare, prepare_file
from serving_support import HELD_OUT, steel_run, trained_run, untrained_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_data) -> Path:
    return trained_run(tmp_path_factory, shared_data)


@pytest.fixture(scope="module")
def predictor(run_dir) -> Predictor:
    return Predictor(run_dir)


def test_heldout_load_verdicts_all_correct(run_dir, cwru_dir, tmp_path, capsys):
    files = [str(cwru_dir / f"{n}.mat") for n in HELD_OUT]
    out_json = tmp_path / "preds.json"
    assert main(["predict", str(run_dir), *files, "--out", str(out_json)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    got = {Path(r["file"]).stem: r["tasks"]["class"]["prediction"] for r in doc["recordings"]}
    assert got == {str(n): c for n, c in HELD_OUT.items()}
    for n, cls in HELD_OUT.items():  # the table shows each file with its verdict
        line = next(ln for ln in printed.splitlines() if f"{n}.mat" in ln)
        assert cls in line
    for rec in doc["recordings"]:
        v = rec["tasks"]["class"]
        assert v["confidence"] == pytest.approx(max(v["mean_proba"].values()))
        assert sum(v["shares"].values()) == pytest.approx(1.0)
        assert v["shares"][v["prediction"]] > 0.5


def test_csv_and_json_outputs_are_well_formed(run_dir, predictor, cwru_dir, tmp_path):
    files = [str(cwru_dir / "108.mat"), str(cwru_dir / "237.mat")]
    out_csv, out_json = tmp_path / "p.csv", tmp_path / "p.json"
    assert main(["predict", str(run_dir), *files, "--out", str(out_csv), "--batch-size", "7"]) == 0
    assert main(["predict", str(run_dir), *files, "--out", str(out_json)]) == 0
    df = pd.read_csv(out_csv)
    classes = predictor.classes["class"]
    prob_cols = [f"p_class_{c}" for c in classes]
    assert list(df.columns) == [
        "file",
        "window",
        "start_sample",
        "start_s",
        "class",
        "class_confidence",
        *prob_cols,
    ]
    assert np.allclose(df[prob_cols].sum(axis=1), 1.0, atol=1e-4)
    assert (df["class"] == np.asarray(classes)[df[prob_cols].to_numpy().argmax(axis=1)]).all()
    stride = predictor.pre.stride
    for _, g in df.groupby("file"):
        assert (g["window"].to_numpy() == np.arange(len(g))).all()
        assert (g["start_sample"].to_numpy() == np.arange(len(g)) * stride).all()
        assert np.allclose(g["start_s"], g["start_sample"] / 12000.0, atol=1e-6)
    # batch size does not change the answers; JSON rows carry the same columns and values
    doc = json.loads(out_json.read_text())
    js = pd.DataFrame(doc["windows"])
    assert list(js.columns) == list(df.columns) and len(js) == len(df)
    assert np.allclose(js[prob_cols], df[prob_cols], atol=1e-5)
    assert [r["n_windows"] for r in doc["recordings"]] == df.groupby(
        "file", sort=False
    ).size().tolist()
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_replay_matches_training_windows(run_dir, cwru_dir, shared_data):
    """The replayed windows of a file equal the training pipeline's windows of it, bit for bit."""
    from faultlab.data.build import build_windows
    from faultlab.experiments.config import ExperimentConfig
    from serving_support import RUN_CONFIG

    cfg = ExperimentConfig.model_validate(RUN_CONFIG).data.model_copy(
        update={"data_dir": str(shared_data)}
    )
    ws = build_windows(cfg)
    pre = Preprocessing.from_run(run_dir)
    for number in ("108", "97"):  # 97: normal baseline at 48 kHz, resampled to 12 kHz
        mine = prepare_file(pre, cwru_dir / f"{number}.mat")
        ids = ws.recording_id
        rows = np.flatnonzero((ids == number) | (ids == f"{number}#b0"))  # 97 is cut in blocks
        assert len(rows) > 5
        np.testing.assert_array_equal(mine.X[: len(rows)], ws.X[rows])
    assert mine.source_rate == 48000 and mine.rate == 12000


def test_other_rates_and_formats_give_the_same_verdict(predictor, cwru_dir, tmp_path):
    """A 24 kHz .npy, a CSV with a time column and a WAV of the same signal are resampled."""
    from scipy.io import wavfile

    rec = load_input(cwru_dir / "212.mat", ["DE"])
    sig = rec.signal[0, :48000]
    up = resample_signal(sig[None], 12000, 24000)[0]
    np.save(tmp_path / "a.npy", up)
    t = np.arange(len(up)) / 24000
    pd.DataFrame({"time": t, "accel": up}).to_csv(tmp_path / "b.csv", index=False)
    wavfile.write(tmp_path / "c.wav", 24000, up.astype(np.float32))
    ref = predictor.predict_signal(sig, 12000).verdicts["class"]
    assert ref.prediction == "IR_0.021"
    for name, rate in (("a.npy", 24000), ("b.csv", None), ("c.wav", None)):
        rp = predictor.predict_file(tmp_path / name, sampling_rate=rate)
        assert rp.prepared.source_rate == pytest.approx(24000) and rp.prepared.rate == 12000
        assert rp.verdicts["class"].prediction == "IR_0.021", name
        assert rp.n_windows == len(sig) // predictor.pre.stride


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bad.mat"], "not a readable .mat file"),
        (["108.mat", "--channel", "XX"], "no variable ending in 'XX'"),
        (["short.npy", "--sampling-rate", "12000"], "shorter than one window"),
        (["short.npy"], "sampling rate unknown"),
        (["two.npy", "--sampling-rate", "12000"], "--channel"),
        (["notes.txt"], "unsupported file type '.txt'"),
        (["missing.mat"], "file not found"),
        (["108.mat", "--out", "preds.xlsx"], "--out must end in .csv or .json"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    run_dir, cwru_dir, tmp_path, capsys, monkeypatch, args, needle
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.mat").write_bytes(b"not a mat file" * 20)
    (tmp_path / "notes.txt").write_text("1,2,3")
    np.save(tmp_path / "short.npy", np.zeros(500, np.float32))
    np.save(tmp_path / "two.npy", np.zeros((2, 5000), np.float32))
    (tmp_path / "108.mat").symlink_to(cwru_dir / "108.mat")
    assert main(["predict", str(run_dir), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert needle in err


def test_not_a_run_directory(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "x.npy"]) == 2
    assert "not a finished faultlab run" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="preprocess.json: missing"):
        Preprocessing.from_run(tmp_path)


def test_normalise_and_standardiser_are_replayed():
    """zscore per window, then the training standardiser, exactly as the runner applies them."""
    rng = np.random.default_rng(3)
    mean = rng.normal(size=(1, 64))
    std = rng.uniform(0.5, 2, size=(1, 64))
    pre = Preprocessing.from_dict(
        {
            "channels": ["DE"],
            "window": 64,
            "stride": 32,
            "target_rate": 1000,
            "normalise": "zscore",
            "standardiser": {"per": "position", "mean": mean.tolist(), "std": std.tolist()},
            "classes": {"class": ["a"]},
        }
    )
    sig = rng.normal(3, 2, size=1000).astype(np.float32)
    p = prepare(pre, sig, 1000)
    assert p.X.shape == (30, 1, 64) and p.X.flags.writeable
    w = sig[32:96]
    expect = ((w - w.mean()) / w.std() - mean[0]) / std[0]
    np.testing.assert_allclose(p.X[1, 0], expect, rtol=1e-5, atol=1e-5)
    with pytest.raises(DataError, match="2 channel"):
        prepare(pre, np.zeros((2, 1000)), 1000)
    with pytest.raises(DataError, match="NaN/inf"):
        prepare(pre, np.r_[sig[:10], np.inf, sig[11:]], 1000)
    with pytest.raises(DataError, match="sampling.rate"):
        prepare(pre, sig, 0)


def test_multitask_run_gives_a_verdict_per_task(tmp_path, capsys):
    classes = {"detection": ["normal", "fault"], "location": ["IR", "B", "OR"]}
    run = untrained_run(tmp_path, "cnn1d", classes)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=5000).astype(np.float32))
    out = tmp_path / "p.csv"
    assert (
        main(
            [
                "predict",
                str(run),
                str(tmp_path / "x.npy"),
                "--sampling-rate",
                "12000",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "task" in table and "detection" in table and "location" in table
    df = pd.read_csv(out)
    assert {"detection", "location", "p_detection_fault", "p_location_OR"} <= set(df.columns)
    assert len(df) == 4


def test_soft_vote_verdict():
    proba = {"t": np.array([[0.6, 0.4], [0.6, 0.4], [0.0, 1.0]])}
    v = verdicts(proba, {"t": ["a", "b"]})["t"]
    # 2 of 3 windows say "a", but the mean probability favours "b"
    assert v.prediction == "b" and v.confidence == pytest.approx(0.6)
    assert v.shares == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_tabular_run_replays_the_standardiser_on_feature_rows(
    tmp_path, tmp_path_factory, steel_csv, capsys
):
    """Predicting the held-out steel plates from the CSV reproduces the run's test accuracy."""
    run = steel_run(tmp_path_factory)
    split = json.loads((run / "split.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    table = pd.read_csv(steel_csv)
    test = table.iloc[split["indices"]["test"]]
    test.to_csv(tmp_path / "plates.csv", index=False)
    out = tmp_path / "plates-pred.csv"
    assert main(["predict", str(run), str(tmp_path / "plates.csv"), "--out", str(out)]) == 0
    pred = pd.read_csv(out)
    truth = test.iloc[:, 27:].idxmax(axis=1).to_numpy()
    assert len(pred) == len(test) and pred["start_s"].isna().all()
    acc = float((pred["label"].to_numpy() == truth).mean())
    assert acc == pytest.approx(metrics["primary"]["accuracy"], abs=1e-9)
    with pytest.raises(DataError, match="missing feature column"):
        Predictor(run).predict_file(_drop_column(table, tmp_path))


def _drop_column(table: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "fewer.csv"
    table.drop(columns=[table.columns[3]]).iloc[:5].to_csv(path, index=False)
    return path
