"""`faultlab train` end to end: run directories, standardisation on train only, resume, errors."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from faultlab.cli import main
from faultlab.experiments import rundir
from serving_support import steel_run


def test_train_steel_plates_rf_writes_a_complete_run(tmp_path_factory, shared_data):
    # `faultlab train --dataset table ... -p n_estimators=50`, run once a session (the serving
    # and predict tests read the same run)
    run = steel_run(tmp_path_factory)
    for name in (
        rundir.CONFIG,
        rundir.SPLIT,
        rundir.METRICS,
        rundir.PREPROCESS,
        rundir.REPORT_MD,
        rundir.REPORT_HTML,
        "model/model.json",
    ):
        assert (run / name).exists(), name
    metrics = json.loads((run / rundir.METRICS).read_text())
    assert metrics["run"]["protocol"] == "recording"
    assert metrics["data"]["standardised"] is True
    assert 0.6 < metrics["primary"]["accuracy"] <= 1.0  # 7 classes; chance is ~0.35
    # the standardiser was fitted on the training rows only
    pre = json.loads((run / rundir.PREPROCESS).read_text())
    split = json.loads((run / rundir.SPLIT).read_text())
    X = (
        pd.read_csv(shared_data / "steel-plates" / "steel_plates_faults.csv")
        .iloc[:, :27]
        .to_numpy()
    )
    train_mean = X[split["indices"]["train"]].mean(axis=0)
    np.testing.assert_allclose(np.ravel(pre["standardiser"]["mean"]), train_mean, rtol=1e-4)
    assert not set(split["recordings"]["test"]) & set(split["recordings"]["train"])
    assert yaml.safe_load((run / rundir.CONFIG).read_text())["model"]["params"] == {
        "n_estimators": 50
    }


@pytest.mark.slow
def test_train_skips_finished_folds_and_resumes(tmp_path, capsys):
    args = [
        "train",
        "--dataset",
        "synthetic",
        "--model",
        "cnn1d",
        "--epochs",
        "2",
        "--set",
        "data.synthetic={duration_s: 2, loads: [0, 1]}",
        "--split",
        "leave_one_out",
        "--fold",
        "1",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    assert main(args) == 0
    first = (tmp_path / "test-load_hp-1" / rundir.METRICS).read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert "finished earlier, skipped" in capsys.readouterr().out
    assert (tmp_path / "test-load_hp-1" / rundir.METRICS).read_text() == first


def test_train_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--model", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'nope'") and "Traceback" not in err
    assert (
        main(["train", "--model", "cnn1d", "--set", "data.window=4", "--out", str(tmp_path)]) == 2
    )
    assert "data.window" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
