"""The deep model zoo on real data: every registered torch model trains on CWRU windows,
heads fit every target, recurrent models read steel-plates features as a sequence, and
save/load, describe and the ``faultlab models`` command behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from faultlab.cli import main as cli_main
from faultlab.data.build import build_windows, for_target
from faultlab.data.config import DataConfig
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.models.base import build_model, load_model, registry
from faultlab.models.heads import MultiTaskLoss, balanced_class_weights
from faultlab.models.torch_base import TorchModel
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

DEEP = [
    "mlp",
    "cnn1d",
    "resnet1d",
    "tcn",
    "rnn",
    "lstm",
    "gru",
    "lstm_attention",
    "transformer",
    "inception",
]

#: Tiny widths so every model trains in about a second on one thread.
SMALL = {
    "mlp": {"hidden": [32]},
    "cnn1d": {"first_channels": 8, "channels": [16, 16, 16], "fc": 32},
    "resnet1d": {"stem_channels": 8, "stages": [8, 16]},
    "tcn": {"channels": [8, 8, 8]},
    "rnn": {"units": 16, "proj_dim": 16, "dropout": [0.1, 0.0]},
    "lstm": {"units": 16, "proj_dim": 16, "dropout": [0.1, 0.0]},
    "gru": {"units": 16, "proj_dim": 16, "dropout": [0.1, 0.0]},
    "lstm_attention": {"units": 16, "proj_dim": 16, "attention_dim": 16},
    "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff_dim": 32},
    "inception": {"filters": 4, "bottleneck": 4},
}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cwru(shared_data) -> WindowSet:
    """Real windows: normal (97, resampled to 12 kHz), IR 0.007 (105), OR 0.007 (130), load 0."""
    import os

    os.environ["FAULTLAB_DATA_DIR"] = str(shared_data)
    ws = build_windows(DataConfig(files=[97, 105, 130]))
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(ws), size=min(240, len(ws)), replace=False))
    return ws.subset(keep)


@pytest.fixture(scope="module")
def steel(steel_csv) -> WindowSet:
    """Steel plates: 27 features as a 27-step sequence of one channel, 7 one-hot classes."""
    df = pd.read_csv(steel_csv)
    label_cols = list(df.columns[-7:])
    X = df.iloc[:, :27].to_numpy(np.float32)[:, None, :]
    y = df[label_cols].to_numpy().argmax(axis=1)
    n = len(df)
    return WindowSet(
        X=X,
        y={"label": y.astype(np.int64)},
        classes={"label": label_cols},
        recording_id=np.array([f"row-{i}" for i in range(n)]),
        info=pd.DataFrame(index=range(n)),
        feature_names=list(df.columns[:27]),
    )


def _cfg(**kw) -> TrainConfig:
    base = dict(
        epochs=3,
        batch_size=32,
        lr=3e-3,
        schedule="none",
        patience=None,
        progress=False,
        seed=0,
        num_threads=1,
    )
    return TrainConfig(**{**base, **kw})


def _loss(model: TorchModel, ws: WindowSet) -> float:
    """Mean cross-entropy (summed over tasks) of the model's probabilities on ``ws``."""
    proba = model.predict_proba(ws.X)
    total = 0.0
    for t, p in proba.items():
        ok = ws.y[t] >= 0
        total += float(-np.log(p[ok, ws.y[t][ok]] + 1e-12).mean())
    return total


def test_registry_has_every_deep_model_with_full_defaults():
    specs = registry()
    for name in DEEP:
        assert name in specs, name
        assert issubclass(specs[name].cls, TorchModel)
        assert {"input_norm", "head_dropout"} <= set(specs[name].defaults)
        for option in SMALL[name]:
            assert option in specs[name].defaults, (name, option)


@pytest.mark.parametrize("name", DEEP)
def test_model_trains_on_real_cwru_windows(name, cwru):
    ws = for_target(cwru, "flat")
    model = build_model(name, ws.classes, (1, ws.window_length), SMALL[name], _cfg())
    before = _loss(model, ws)
    fit = fit_model(model, ws)
    after = _loss(model, ws)
    assert fit.epochs == 3 and len(fit.history) == 3
    assert after < before, (name, before, after)
    assert np.isfinite([h["train_loss"] for h in fit.history]).all()
    proba = model.predict_proba(ws.X[:50])
    assert proba["class"].shape == (50, len(ws.classes["class"]))
    np.testing.assert_allclose(proba["class"].sum(axis=1), 1.0, atol=1e-5)


def test_deep_models_are_trained_by_the_training_floor():
    """A deep model has no loop of its own (models sit below training): its ``fit`` points
    to ``fit_model``, which trains it through the hooks and returns the engine's notes."""
    classes = {"class": ["a", "b"]}
    ws = WindowSet(
        X=np.random.default_rng(0).standard_normal((16, 1, 64)).astype(np.float32),
        y={"class": np.arange(16) % 2},
        classes=classes,
        recording_id=np.arange(16).astype(str),
        info=pd.DataFrame(index=pd.RangeIndex(16)),
        sampling_rate=1000.0,
        channels=["x"],
    )
    model = build_model("mlp", classes, (1, 64), {"hidden": [8]}, _cfg(epochs=1))
    with pytest.raises(TypeError, match="fit_model"):
        model.fit(ws)
    fit = fit_model(model, ws)
    assert fit.epochs == 1 and "input normalisation: global" in fit.notes


@pytest.mark.parametrize("name", ["cnn1d", "gru"])
def test_binary_and_multitask_heads(name, cwru):
    binary = for_target(cwru, "binary")
    m = build_model(name, binary.classes, (1, 1024), SMALL[name], _cfg(epochs=2))
    fit_model(m, binary)
    assert m.predict_proba(binary.X[:7])["detection"].shape == (7, 2)

    multi = for_target(cwru, "multitask")
    assert (multi.y["size"] == -1).any() and (multi.y["location"] == -1).any()  # normal windows
    m = build_model(name, multi.classes, (1, 1024), SMALL[name], _cfg(epochs=2, class_weights=True))
    fit = fit_model(m, multi, multi.subset(np.arange(0, len(multi), 5)))
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in fit.history)
    assert "val_accuracy_size" in fit.history[-1]
    proba = m.predict_proba(multi.X[:5])
    assert {t: p.shape[1] for t, p in proba.items()} == {
        t: len(c) for t, c in multi.classes.items()
    }


def test_multitask_loss_ignores_not_applicable_labels():
    logits = {"detection": torch.randn(4, 2), "size": torch.randn(4, 3)}
    all_normal = {"detection": torch.zeros(4, dtype=torch.long), "size": torch.full((4,), -1)}
    loss = MultiTaskLoss()(logits, all_normal)
    expected = torch.nn.functional.cross_entropy(logits["detection"], all_normal["detection"])
    assert torch.isfinite(loss) and torch.isclose(loss, expected)
    w = {"size": torch.tensor([1.0, 2.0, 3.0])}
    mixed = {"detection": torch.tensor([0, 1, 1, 1]), "size": torch.tensor([-1, 0, 2, 2])}
    got = MultiTaskLoss(w)(logits, mixed)
    ref = torch.nn.functional.cross_entropy(
        logits["detection"], mixed["detection"]
    ) + torch.nn.functional.cross_entropy(
        logits["size"], mixed["size"], weight=w["size"], ignore_index=-1
    )
    assert torch.isclose(got, ref)


def test_balanced_class_weights():
    w = balanced_class_weights(np.array([0, 0, 0, 1, -1, -1]), 3)
    np.testing.assert_allclose(w.numpy(), [4 / 6, 4 / 2, 1.0], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_recurrent_models_learn_steel_plate_features_as_sequence(name, steel):
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(steel))
    train, test = steel.subset(idx[:1400]), steel.subset(idx[1400:])
    model = build_model(
        name, steel.classes, (1, 27), {"units": 32, "proj_dim": 32}, _cfg(epochs=8, batch_size=64)
    )
    assert model.net.backbone.chunk == 3 and model.net.backbone.steps == 9  # 27 features -> 9 steps
    before = _loss(model, test)
    fit = fit_model(model, train)
    assert any("input normalisation: feature" in n for n in fit.notes)
    losses = [h["train_loss"] for h in fit.history]
    assert losses[-1] < losses[0]
    acc = (model.predict(test.X)["label"] == test.y["label"]).mean()
    assert _loss(model, test) < before
    assert acc > 0.55, acc  # majority class is ~35 %


@pytest.mark.parametrize("shape", [(1, 27), (2, 1000), (1, 100)])
@pytest.mark.parametrize("name", DEEP)
def test_models_accept_any_length(name, shape):
    m = build_model(name, {"class": ["a", "b", "c"]}, shape, SMALL[name])
    p = m.predict_proba(np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32))
    assert p["class"].shape == (3, 3)


@pytest.mark.parametrize("name", DEEP)
def test_save_load_round_trip_gives_identical_probabilities(name, cwru, tmp_path):
    ws = for_target(cwru, "flat")
    model = build_model(name, ws.classes, (1, 1024), SMALL[name], _cfg(epochs=1))
    fit_model(model, ws.subset(np.arange(64)))
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert type(again) is type(model) and again.params == model.params
    a, b = model.predict_proba(ws.X[:20]), again.predict_proba(ws.X[:20])
    np.testing.assert_array_equal(a["class"], b["class"])
    assert not list((tmp_path / "m").glob("*.tmp"))


def test_same_seed_same_initial_weights_and_fit(cwru):
    ws = for_target(cwru, "flat").subset(np.arange(64))
    a = build_model("cnn1d", ws.classes, (1, 1024), SMALL["cnn1d"], _cfg(epochs=1, seed=3))
    b = build_model("cnn1d", ws.classes, (1, 1024), SMALL["cnn1d"], _cfg(epochs=1, seed=3))
    c = build_model("cnn1d", ws.classes, (1, 1024), SMALL["cnn1d"], _cfg(epochs=1, seed=4))
    for x, y in zip(a.net.parameters(), b.net.parameters()):
        assert torch.equal(x, y)
    assert not all(torch.equal(x, y) for x, y in zip(a.net.parameters(), c.net.parameters()))
    fit_model(a, ws)
    fit_model(b, ws)
    np.testing.assert_array_equal(a.predict_proba(ws.X)["class"], b.predict_proba(ws.X)["class"])


def test_describe_reports_layers_params_and_size():
    m = build_model("cnn1d", {"class": list("abcd")}, (1, 1024))
    s = m.describe()
    n = sum(p.numel() for p in m.net.parameters())
    assert s.n_params == s.trainable_params == n
    assert s.size_bytes >= 4 * n
    assert "Total params" in s.text
    types = {row["type"] for row in s.layers}
    assert {"Conv1d", "BatchNorm1d", "Linear"} <= types
    conv = next(r for r in s.layers if r["type"] == "Conv1d")
    assert conv["output_shape"] == [1, 16, 64] and conv["params"] == 16 * 64 + 16


def test_bad_options_and_shapes_are_config_errors(cwru):
    with pytest.raises(ConfigError, match=r"^model\.params\.unitz: unknown key for lstm \(known: "):
        build_model("lstm", {"class": ["a", "b"]}, (1, 1024), {"unitz": 3})
    with pytest.raises(ConfigError, match="dropout"):
        build_model("lstm", {"class": ["a", "b"]}, (1, 1024), {"layers": 2, "dropout": [0.1]})
    with pytest.raises(ConfigError, match="input_norm"):
        build_model("cnn1d", {"class": ["a", "b"]}, (1, 1024), {"input_norm": "nope"})
    m = build_model("cnn1d", cwru.classes, (1, 512), SMALL["cnn1d"], _cfg())
    with pytest.raises(ConfigError, match="expected \\[n, 1, 512\\]"):
        fit_model(m, cwru)


def test_cli_lists_every_registered_model(capsys):
    assert cli_main(["models"]) == 0
    text = capsys.readouterr().out
    out = text.split("\n\n")[0].splitlines()  # the model table; adaptation methods follow
    names = {line.split()[0] for line in out}
    assert names == set(registry())
    assert "domain adaptation" in text
    assert any(line.split()[1] == "deep" for line in out)


def test_cli_shows_options_and_summary(capsys):
    assert cli_main(["models", "gru", "--summary", "--input-shape", "1,27"]) == 0
    out = capsys.readouterr().out
    assert "chunk" in out and "bidirectional" in out and "Total params" in out


def test_cli_unknown_model_is_one_line_exit_2(capsys):
    assert cli_main(["models", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown model 'nope'")


@pytest.mark.parametrize("shape", [(1, 1024), (1, 27), (2, 1000)])
def test_recurrent_conv_projection_any_length(shape):
    m = build_model(
        "gru",
        {"class": ["a", "b"]},
        shape,
        {"frontend": "chunk", "proj": "conv", "units": 8, "proj_dim": 8},
    )
    p = m.predict_proba(np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32))
    assert p["class"].shape == (4, 2)
    with pytest.raises(ConfigError, match="proj"):
        build_model("gru", {"class": ["a", "b"]}, shape, {"proj": "nope"})


# -- spectral front end of the recurrent models ------------------------------------------------
@pytest.mark.parametrize("shape,spectral", [((1, 1024), True), ((2, 1024), True), ((1, 27), False)])
def test_recurrent_stft_frontend_shapes_and_short_fallback(shape, spectral):
    from faultlab.models.frontends import n_frames

    m = build_model(
        "lstm",
        {"class": ["a", "b"]},
        shape,
        {"frontend": "stft", "frame": 128, "hop": 64, "units": 8, "proj_dim": 8},
    )
    bb = m.net.backbone
    assert (bb.stft is not None) == spectral
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32))
    steps = bb.steps_of(x)
    if spectral:  # 1024 samples, frame 128, hop 64 -> 15 frames of 65 bins per channel
        assert n_frames(1024, 128, 64) == 15 and bb.stft(x).shape == (3, 15, shape[0] * 65)
        assert steps.shape == (3, 15, 8)
    else:  # 27 features are too short for a spectrum: chunked into 9 steps of 3
        assert steps.shape == (3, 9, 8)
    assert m.predict_proba(x.numpy())["class"].shape == (3, 2)
    with pytest.raises(ConfigError, match="frontend"):
        build_model("lstm", {"class": ["a", "b"]}, shape, {"frontend": "wavelet"})
    with pytest.raises(ConfigError, match="hop"):
        build_model("lstm", {"class": ["a", "b"]}, shape, {"frontend": "stft", "hop": 0})


def test_fixed_dft_conv_matches_numpy_rfft_on_a_sine():
    from faultlab.models.frontends import LogSTFT

    frame, hop, fs = 128, 64, 12000.0
    t = np.arange(1024) / fs
    x = np.sin(2 * np.pi * 1500.0 * t) + 0.3 * np.cos(2 * np.pi * 4218.75 * t)  # bins 16 and 45
    stft = LogSTFT(1, frame, hop, norm="none", standardise=False)
    assert not list(stft.parameters())  # the transform never trains
    power = stft.power(torch.tensor(x, dtype=torch.float32)[None, None]).numpy()[0]  # [bins, T]
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    ref = np.abs(np.fft.rfft(frames * np.hanning(frame + 1)[:-1], axis=1)).T
    np.testing.assert_allclose(np.sqrt(power), ref, rtol=1e-3, atol=1e-3)
    assert set(np.argmax(np.sqrt(power), axis=0)) == {16}
    second = np.sqrt(power[:, 0]).copy()
    second[15:18] = 0  # the 1500 Hz peak and its Hann side bins
    assert np.argmax(second) == 45
    # standardise (the default) z-scores each window first: the level no longer matters
    std = LogSTFT(1, frame, hop, norm="none")
    x32 = torch.tensor(x, dtype=torch.float32)[None, None]
    np.testing.assert_allclose(std(x32).numpy(), std(7.5 * x32 + 0.2).numpy(), atol=1e-4)


def test_stft_lstm_save_load_round_trip(tmp_path, cwru):
    params = {"frontend": "stft", "units": 8, "proj_dim": 8, "layers": 1}
    m = build_model("lstm", cwru.classes, (1, 1024), params, TrainConfig(epochs=1, progress=False))
    fit_model(m, cwru)
    m.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.net.backbone.stft is not None
    np.testing.assert_allclose(
        back.predict_proba(cwru.X[:16])["class"], m.predict_proba(cwru.X[:16])["class"], atol=1e-6
    )


def test_spectrum_input_matches_numpy_rfft_and_cnn1d_reads_it():
    from faultlab.models.frontends import Spectrum

    fs, n = 12000.0, 1024
    t = np.arange(n) / fs
    x = np.sin(2 * np.pi * 1500.0 * t) + 0.3 * np.cos(2 * np.pi * 4218.75 * t)  # bins 128, 360
    spec = Spectrum(n, norm="none")
    assert not list(spec.parameters())  # the transform never trains
    h = spec(torch.tensor(x, dtype=torch.float32)[None, None]).numpy()[0, 0]
    ref = np.abs(np.fft.rfft(x))[: n // 2] / n
    np.testing.assert_allclose(h, ref, atol=1e-4)
    assert h.shape == (n // 2,) and np.argsort(h)[-2:].tolist() == [360, 128]
    # the default z-scores each spectrum: the window's level no longer matters
    z, x32 = Spectrum(n), torch.tensor(x, dtype=torch.float32)[None, None]
    np.testing.assert_allclose(z(x32).numpy(), z(7.5 * x32).numpy(), atol=1e-4)
    for shape in [(1, 1024), (2, 1000), (1, 27)]:
        m = build_model("cnn1d", {"class": ["a", "b"]}, shape, {"input": "spectrum"})
        X = np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)
        assert m.predict_proba(X)["class"].shape == (3, 2)
