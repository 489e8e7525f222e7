"""The training engine: exact resume, early stopping with best-weight restore, time budget,
schedules/optimisers, checkpoints, augmentation, the cuDNN fallback and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from faultlab.data.build import build_windows, for_target
from faultlab.data.config import DataConfig
from faultlab.errors import ConfigError
from faultlab.models.base import build_model
from faultlab.models.heads import MultiTaskLoss
from faultlab.training.config import TrainConfig
from faultlab.training.device import choose_precision, resolve_device
from faultlab.training.engine import CHECKPOINT_NAME, Trainer, augment_batch, load_checkpoint
from faultlab.training.fit import fit_model

SMALL_CNN = {"first_channels": 8, "channels": [16, 16, 16], "fc": 32}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def three_class():
    """220 windows of three classes (normal, ball, outer race at one load), as CWRU files
    97, 118 and 130 give them, from the synthetic generator: the engine's behaviour does
    not depend on real data, so these tests run anywhere."""
    syn = {"duration_s": 8.0, "loads": [0], "locations": ["B", "OR"], "sizes": [0.007]}
    ws = for_target(build_windows(DataConfig(dataset="synthetic", synthetic=syn)), "flat")
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(ws))
    return ws.subset(np.sort(idx[:160])), ws.subset(np.sort(idx[160:220]))


def _cfg(**kw) -> TrainConfig:
    base = dict(
        epochs=4, batch_size=32, lr=3e-3, progress=False, seed=0, num_threads=1, patience=None
    )
    return TrainConfig(**{**base, **kw})


def _model(ws, name="cnn1d", params=None, **kw):
    return build_model(name, ws.classes, (1, ws.window_length), params or SMALL_CNN, _cfg(**kw))


def _strip(history):
    return [{k: v for k, v in h.items() if k not in ("seconds", "data_seconds")} for h in history]


class _Crash(Exception):
    pass


@pytest.mark.parametrize(
    "name,params", [("cnn1d", SMALL_CNN), ("lstm", {"units": 16, "proj_dim": 16, "dropout": 0.3})]
)
def test_resume_after_interruption_matches_uninterrupted_run(name, params, three_class, tmp_path):
    train, val = three_class
    kw = dict(epochs=4, schedule="onecycle", augment=["shift", "scale"], patience=10)
    straight = _model(train, name, params, **kw)
    res_a = fit_model(straight, train, val, run_dir=tmp_path / "a")

    def crash_after_2(epoch, row):
        if epoch == 2:
            raise _Crash

    first = _model(train, name, params, **kw)
    with pytest.raises(_Crash):
        fit_model(first, train, val, run_dir=tmp_path / "b", callbacks=[crash_after_2])
    assert load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)["epoch"] == 2
    resumed = _model(train, name, params, **kw)  # a fresh process would rebuild the model
    res_b = fit_model(resumed, train, val, run_dir=tmp_path / "b", resume=True)

    assert any("resumed from" in n for n in res_b.notes)
    assert res_b.epochs == res_a.epochs == 4 and res_b.best_epoch == res_a.best_epoch
    ha, hb = _strip(res_a.history), _strip(res_b.history)
    assert [h["epoch"] for h in hb] == [1, 2, 3, 4]
    for ra, rb in zip(ha, hb):
        for k in ra:
            assert rb[k] == pytest.approx(ra[k], abs=1e-6), k
    for (k, a), (_, b) in zip(straight.net.state_dict().items(), resumed.net.state_dict().items()):
        torch.testing.assert_close(a.float(), b.float(), atol=1e-6, rtol=0, msg=k)


def test_resume_without_checkpoint_trains_from_scratch(three_class, tmp_path):
    train, _ = three_class
    res = fit_model(_model(train, epochs=1), train, run_dir=tmp_path, resume=True)
    assert res.epochs == 1 and any("no checkpoint" in n for n in res.notes)


def test_early_stopping_restores_best_weights(three_class):
    train, val = three_class
    # Validation labels are a derangement of the truth: the better the model fits the
    # training data, the worse val_loss gets, so patience must run out early.
    bad_val = val.subset(np.arange(len(val)))
    k = len(val.classes["class"])
    bad_val.y = {"class": (val.y["class"] + 1) % k}
    snapshots = {}
    model = _model(train, epochs=30, patience=2, schedule="none", lr=3e-3)

    def snap(epoch, row):
        snapshots[epoch] = {n: t.detach().clone() for n, t in model.net.state_dict().items()}

    res = fit_model(model, train, bad_val, callbacks=[snap])
    assert res.stopped_reason == "early_stopping"
    assert res.epochs < 30 and res.best_epoch is not None and res.best_epoch < res.epochs
    losses = [h["val_loss"] for h in res.history]
    assert res.best_epoch == int(np.argmin(losses)) + 1
    best = snapshots[res.best_epoch]
    for n, t in model.net.state_dict().items():
        torch.testing.assert_close(t, best[n], atol=0, rtol=0)
    assert any(f"restored best weights from epoch {res.best_epoch}" in n for n in res.notes)


def test_monitor_val_accuracy_and_min_delta(three_class):
    train, val = three_class
    res = fit_model(
        _model(train, epochs=6, patience=1, monitor="val_accuracy", min_delta=2.0), train, val
    )
    # no accuracy can improve by 2.0: patience 1 stops right after the first epoch's baseline
    assert res.stopped_reason == "early_stopping" and res.epochs == 2 and res.best_epoch == 1


def test_time_budget_stops_training(three_class):
    train, val = three_class
    res = fit_model(_model(train, epochs=10_000, time_budget_s=1.0), train, val)
    assert res.stopped_reason == "time_budget"
    assert res.epochs < 10_000
    assert any("time budget" in n for n in res.notes)
    assert res.train_seconds < 30


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "plateau", "none"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_schedules_and_optimisers(schedule, optimizer, three_class):
    train, val = three_class
    res = fit_model(
        _model(train, epochs=3, schedule=schedule, optimizer=optimizer, lr=1e-2), train, val
    )
    lrs = [h["lr"] for h in res.history]
    assert len(lrs) == 3 and all(np.isfinite(h["train_loss"]) for h in res.history)
    if schedule == "none":
        assert lrs == [1e-2] * 3
    elif schedule in ("onecycle", "cosine"):
        assert lrs[-1] < lrs[0] or schedule == "onecycle"
        assert len(set(lrs)) == 3


def test_history_rows_and_checkpoint_file(three_class, tmp_path):
    train, val = three_class
    res = fit_model(_model(train, epochs=2), train, val, run_dir=tmp_path)
    keys = {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "seconds",
        "data_seconds",
    }
    for h in res.history:
        assert keys <= set(h)
        assert 0 <= h["data_seconds"] <= h["seconds"]
        assert 0 <= h["val_accuracy"] <= 1
    ckpt = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2
    assert {"model", "optimizer", "scheduler", "rng", "shuffle_rng", "early_stopping"} <= set(ckpt)
    assert not list(tmp_path.glob("*.tmp"))
    # auto picks CUDA where there is one (the GPU machine ran this test with "cuda (bf16)")
    assert res.device.startswith("cuda" if torch.cuda.is_available() else "cpu")


def test_progress_bar_prints_epoch_lines(three_class, capsys):
    train, val = three_class
    fit_model(_model(train, epochs=1, progress=True), train, val)
    out = capsys.readouterr()
    assert "epoch 1:" in out.out + out.err and "val_accuracy" in out.out + out.err


def test_augment_batch_is_vectorised_and_value_preserving_for_shift():
    torch.manual_seed(0)
    x = torch.randn(5, 2, 64)
    s = augment_batch(x, ["shift"])
    assert s.shape == x.shape and not torch.equal(s, x)
    torch.testing.assert_close(s.sort(dim=-1).values, x.sort(dim=-1).values)
    # a shift is a roll of all channels of a window by one amount
    for i in range(5):
        k = int((s[i, 0] == x[i, 0, 0]).nonzero()[0])
        torch.testing.assert_close(s[i], torch.roll(x[i], k, dims=-1))
    assert augment_batch(x, []) is x
    assert augment_batch(x, ["scale", "flip", "noise"]).shape == x.shape


def test_tabular_windows_get_no_default_shift(three_class):
    # signal windows: auto -> shift; tabular windows: auto -> nothing (feature order matters)
    train, _ = three_class
    res = fit_model(_model(train, epochs=1), train)
    assert any("augmentation: shift" in n for n in res.notes)
    tab = train.subset(np.arange(len(train)))
    tab.feature_names = [f"f{i}" for i in range(tab.window_length)]
    res = fit_model(_model(tab, epochs=1), tab)
    assert any("augmentation: none" in n for n in res.notes)


class _CudnnFlaky(nn.Module):
    """Raises a cuDNN-looking error while cuDNN is enabled (stands in for a failing kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 3)

    def forward(self, x):
        if torch.backends.cudnn.enabled:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED")
        return {"class": self.lin(x.flatten(1))}


def test_cudnn_failure_falls_back_and_says_so(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "enabled", True)
    X = np.random.default_rng(0).normal(size=(40, 1, 8)).astype(np.float32)
    y = {"class": np.arange(40) % 3}
    trainer = Trainer(_CudnnFlaky(), MultiTaskLoss(), _cfg(epochs=2))
    res = trainer.fit(X, y, X, y)
    assert res.epochs == 2 and torch.backends.cudnn.enabled is False
    assert any("cudnn.enabled=False" in n for n in res.notes)


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    auto = resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    assert not choose_precision(torch.device("cpu"), amp=True).enabled
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu9")


def test_too_few_windows_is_a_config_error(three_class):
    train, _ = three_class
    with pytest.raises(ConfigError, match="at least 2"):
        fit_model(_model(train), train.subset(np.arange(1)))
