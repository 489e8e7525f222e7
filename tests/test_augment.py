"""Domain-shift augmentations: what each does to a known signal, seeding, training-only use."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig, parse_config
from faultlab.models.base import build_model
from faultlab.training.augment import (
    Augmenter,
    add_noise,
    amplitude,
    augmentation_text,
    bandpass,
    circular_shift,
    flip,
    speed_jitter,
)
from faultlab.training.config import AugmentConfig, TrainConfig
from faultlab.training.fit import fit_model

L = 2048


def _tone(cycles: float, n: int = 1, length: int = L) -> torch.Tensor:
    """``n`` windows of a sine with ``cycles`` periods per window, ``[n, 1, length]``."""
    t = torch.arange(length, dtype=torch.float64)
    return torch.sin(2 * math.pi * cycles * t / length).repeat(n, 1, 1).float()


def _peak_bin(x: torch.Tensor) -> np.ndarray:
    """FFT bin of the strongest line of each window (Hann window against leakage)."""
    w = torch.hann_window(x.shape[-1], periodic=False)
    return torch.fft.rfft(x[:, 0] * w, dim=-1).abs().argmax(-1).numpy()


def test_speed_jitter_scales_a_tones_frequency_by_the_factor():
    x = _tone(100.0, n=3)
    factor = torch.tensor([0.9, 1.0, 1.1])
    y = speed_jitter(x, factor)
    assert y.shape == x.shape
    np.testing.assert_allclose(_peak_bin(y), [90, 100, 110], atol=1)
    torch.testing.assert_close(y[1], x[1], atol=1e-5, rtol=0)  # factor 1: unchanged
    # the centre sample is the pivot: read at the same time whatever the factor
    assert torch.allclose(y[:, :, (L - 1) // 2], x[:, :, (L - 1) // 2], atol=0.05)


def test_amplitude_and_flip_multiply_each_window():
    x = torch.randn(4, 2, 64)
    g = torch.tensor([0.5, 1.0, 2.0, 1.25])
    torch.testing.assert_close(amplitude(x, g), x * g[:, None, None])
    s = torch.tensor([1.0, -1.0, -1.0, 1.0])
    torch.testing.assert_close(flip(x, s), x * s[:, None, None])


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 40.0])
def test_noise_is_added_at_the_requested_snr(snr_db):
    x = 3.0 * _tone(37.0, n=64) + 5.0  # a DC offset must not count as signal power
    gen = torch.Generator().manual_seed(0)
    y = add_noise(x, torch.full((64,), snr_db), gen)
    noise = y - x
    measured = 10 * torch.log10(x.var(-1, unbiased=False) / noise.pow(2).mean(-1))
    assert abs(float(measured.mean()) - snr_db) < 0.1
    torch.testing.assert_close(add_noise(x, torch.full((64,), math.inf), gen), x)


def test_circular_shift_rolls_all_channels_together():
    x = torch.arange(2 * 16, dtype=torch.float32).reshape(1, 2, 16).repeat(3, 1, 1)
    y = circular_shift(x, torch.tensor([0, 3, 15]))
    for i, k in enumerate([0, 3, 15]):
        torch.testing.assert_close(y[i], torch.roll(x[i], -k, dims=-1))


def test_bandpass_removes_out_of_band_tones_and_keeps_the_band():
    low_tone, mid_tone, high_tone = _tone(50.0), _tone(400.0), _tone(900.0)
    x = low_tone + mid_tone + high_tone  # 50, 400, 900 cycles of 1024 bins
    # keep 0.2-0.6 x Nyquist = bins 204.8-614.4: only the 400-cycle tone survives
    y = bandpass(x, torch.tensor([0.2]), torch.tensor([0.6]))
    torch.testing.assert_close(y, mid_tone, atol=1e-4, rtol=0)
    torch.testing.assert_close(
        bandpass(x, torch.tensor([0.0]), torch.tensor([1.0])), x, atol=1e-4, rtol=0
    )


def test_augmenter_is_seeded_draws_with_p_and_keeps_shape():
    cfg = AugmentConfig(
        speed_jitter=0.1,
        amplitude=(0.8, 1.25),
        noise_snr_db=(10, 40),
        shift=True,
        flip=True,
        bandpass={"low": (0, 0.1), "high": (0.6, 1)},
        p=0.5,
    )
    x = torch.randn(32, 2, 256)
    a = Augmenter(cfg, torch.Generator().manual_seed(3))(x)
    b = Augmenter(cfg, torch.Generator().manual_seed(3))(x)
    c = Augmenter(cfg, torch.Generator().manual_seed(4))(x)
    assert a.shape == x.shape and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    # p = 0: nothing happens; an empty config is the identity too
    assert Augmenter(cfg.model_copy(update={"p": 0.0}))(x) is x
    assert Augmenter(AugmentConfig())(x) is x
    # with p = 0.5 some windows are left alone by a gain-only config
    g = Augmenter(AugmentConfig(amplitude=(2.0, 2.0), p=0.5), torch.Generator().manual_seed(0))(x)
    ratio = (g / x).mean(dim=(1, 2))
    assert set(np.round(ratio.numpy(), 4)) == {1.0, 2.0}


def test_augment_config_is_typed_and_the_list_form_still_works():
    cfg = parse_config(
        ExperimentConfig,
        {
            "training": {
                "augment": {
                    "speed_jitter": 0.1,
                    "amplitude": [0.8, 1.25],
                    "noise_snr_db": [10, 40],
                    "shift": True,
                    "bandpass": {"low": [0, 0.1], "high": [0.5, 1]},
                    "p": 0.5,
                }
            }
        },
    )
    aug = cfg.training.augmentation()
    assert aug.active == ["speed_jitter", "amplitude", "noise", "shift", "bandpass"]
    assert "speed x0.9-1.1" in augmentation_text(aug) and "p=0.5" in augmentation_text(aug)
    legacy = TrainConfig(augment=["shift", "noise"]).augmentation()
    assert legacy.shift and legacy.noise_snr_db == (26.0, 26.0) and legacy.p == 1
    assert TrainConfig().augmentation(tabular=True).active == []
    assert TrainConfig().augmentation().active == ["shift"]
    for bad in (
        {"speed_jitter": 0.7},
        {"amplitude": [1.2, 0.8]},
        {"nois": [1, 2]},
        {"bandpass": {"low": [0, 0.6], "high": [0.5, 1]}},
    ):
        with pytest.raises(ConfigError, match="training.augment"):
            parse_config(ExperimentConfig, {"training": {"augment": bad}})


def test_augmentations_touch_training_batches_only():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 1, 128)).astype(np.float32)
    y = (X[:, 0, :8].mean(1) > 0).astype(np.int64)
    rid = np.array([f"r{i % 8}" for i in range(64)])
    ws = WindowSet(
        X=X,
        y={"class": y},
        classes={"class": ["a", "b"]},
        recording_id=rid,
        info=pd.DataFrame({"recording_id": rid}),
    )
    aug = {"amplitude": [100.0, 100.0], "p": 1.0}  # unmistakable: x100 on every window
    model = build_model(
        "mlp",
        ws.classes,
        (1, 128),
        {"hidden": [8]},
        TrainConfig(epochs=1, progress=False, augment=aug, batch_size=64),
    )
    seen: list[tuple[bool, float]] = []
    model.net.backbone.register_forward_pre_hook(
        lambda mod, inp: seen.append((mod.training, float(inp[0].abs().mean())))
    )
    res = fit_model(model, ws, ws)
    train_means = [m for training, m in seen if training]
    eval_means = [m for training, m in seen if not training]
    assert train_means and eval_means
    assert min(train_means) > 20 * max(eval_means)  # only the training batches were scaled
    assert any("augmentation: gain 100-100" in n for n in res.notes)
    with pytest.raises(ConfigError):
        parse_config(TrainConfig, {"augment": {"p": 2}})
