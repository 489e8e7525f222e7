"""Feature extraction: known values on synthetic signals, shapes and names on real CWRU windows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from faultlab.data.bearings import BEARINGS
from faultlab.data.readers import find_channel, load_mat
from faultlab.errors import ConfigError
from faultlab.features import FeatureExtractor
from faultlab.features.envelope import envelope, envelope_spectrum, envelope_targets
from faultlab.features.spectral import band_powers, power_spectrum
from faultlab.features.time_domain import TIME_FEATURES, time_features

FS = 12000.0
L = 1024


def sine(freq: float, amp: float = 1.0, n: int = L, fs: float = FS, phase: float = 0.0):
    t = np.arange(n) / fs
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def feat(X: np.ndarray, **kw) -> dict[str, np.ndarray]:
    fx = FeatureExtractor(**kw)
    F = fx.transform(X)
    return dict(zip(fx.feature_names, F.T, strict=True))


# frequencies on exact FFT bins so the window holds whole periods
BIN = FS / L


def test_sine_time_statistics():
    amps = np.array([0.5, 1.0, 3.0], dtype=np.float32)
    X = np.stack([sine(32 * BIN, a) for a in amps])[:, None, :]
    f = feat(X, sampling_rate=FS)
    np.testing.assert_allclose(f["rms"], amps / np.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(f["crest_factor"], np.sqrt(2), rtol=1e-4)
    np.testing.assert_allclose(f["kurtosis"], 1.5, rtol=1e-4)  # non-excess
    np.testing.assert_allclose(f["skewness"], 0, atol=1e-4)
    np.testing.assert_allclose(f["mean"], 0, atol=1e-5)
    np.testing.assert_allclose(f["peak_to_peak"], 2 * amps, rtol=1e-4)
    # shape factor of a sine: (A/sqrt2) / (2A/pi) = pi / (2 sqrt 2); needs a finely sampled
    # period (at 32 samples per period the discrete mean |x| is 0.3 % below 2A/pi)
    g = feat(sine(4 * BIN, 2.0, phase=0.3)[None, None, :], sampling_rate=FS)
    np.testing.assert_allclose(g["shape_factor"], np.pi / (2 * np.sqrt(2)), rtol=1e-4)
    np.testing.assert_allclose(g["impulse_factor"], np.pi / 2, rtol=1e-4)
    # 32 periods -> 64 zero crossings over 1023 sample pairs
    np.testing.assert_allclose(f["zero_crossing_rate"], 64 / (L - 1), atol=2 / L)


def test_gaussian_kurtosis_and_impulses_raise_peak_factors():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((64, 1, 4096)).astype(np.float32)
    f = time_features(noise)[:, 0, :]
    k = TIME_FEATURES.index("kurtosis")
    assert f[:, k].mean() == pytest.approx(3.0, abs=0.1)
    spiky = noise.copy()
    spiky[:, :, ::500] += 15  # periodic impacts, as from a local defect
    g = time_features(spiky)[:, 0, :]
    for name in ("kurtosis", "crest_factor", "impulse_factor", "clearance_factor"):
        i = TIME_FEATURES.index(name)
        assert (g[:, i] > f[:, i]).all(), name


def test_constant_window_gives_finite_features():
    X = np.zeros((2, 1, L), dtype=np.float32)
    X[1] = 0.7
    F = FeatureExtractor(sampling_rate=FS).transform(X)
    assert np.isfinite(F).all()


def test_band_powers_sum_to_mean_square():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 2, 1000)).astype(np.float32) + 0.3  # odd band widths, DC
    P = power_spectrum(X)
    bands = band_powers(P, 7)
    assert bands.shape == (5, 2, 7)
    np.testing.assert_allclose(bands.sum(-1), (X.astype(np.float64) ** 2).mean(-1), rtol=1e-4)
    # odd length too (no Nyquist bin)
    Y = X[..., :999]
    np.testing.assert_allclose(
        power_spectrum(Y).sum(-1), (Y.astype(np.float64) ** 2).mean(-1), rtol=1e-4
    )


def test_sine_energy_in_its_band_and_moments_at_its_frequency():
    f0 = 96 * BIN  # 1125 Hz: band 6 of 32 equal bands over 0-6 kHz
    f = feat(sine(f0, 2.0)[None, None, :], sampling_rate=FS, n_bands=32)
    bands = np.array([v[0] for k, v in f.items() if k.startswith("band_")])
    assert bands.argmax() == 6
    assert 10 ** bands.max() == pytest.approx(2.0, rel=1e-3)  # A^2 / 2
    assert f["spec_centroid"][0] == pytest.approx(f0, rel=1e-3)
    assert f["spec_peak_freq"][0] == pytest.approx(f0)
    assert f["spec_entropy"][0] == pytest.approx(0, abs=1e-3)
    # white noise: flat spectrum, centroid near fs/4, high entropy
    rng = np.random.default_rng(2)
    g = feat(rng.standard_normal((32, 1, 4096)).astype(np.float32), sampling_rate=FS)
    assert g["spec_centroid"].mean() == pytest.approx(FS / 4, rel=0.03)
    assert g["spec_entropy"].mean() > 0.9


def test_envelope_of_am_signal_and_impulse_train_spectrum():
    # AM: carrier 3 kHz, modulation 100 Hz depth 0.5 -> envelope 1 + 0.5 sin
    n = 12000
    t = np.arange(n) / FS
    x = ((1 + 0.5 * np.sin(2 * np.pi * 100 * t)) * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    env = envelope(x[None, None, :])[0, 0]
    np.testing.assert_allclose(
        env[200:-200], 1 + 0.5 * np.sin(2 * np.pi * 100 * t[200:-200]), atol=0.02
    )
    amp = envelope_spectrum(env[None, None, :])[0, 0]
    assert amp.argmax() * FS / n == pytest.approx(100, abs=1)
    assert amp.max() == pytest.approx(0.5, rel=0.05)

    # decaying 3 kHz bursts every 1/107 s (BPFO-like): envelope spectrum peaks at 107 Hz
    rate = 107.0
    burst = np.exp(-np.arange(60) / 10.0) * np.sin(2 * np.pi * 3000 * np.arange(60) / FS)
    x = np.zeros(n)
    for start in (np.arange(0, n / FS, 1 / rate) * FS).astype(int)[:-1]:
        x[start : start + 60] += burst
    amp = envelope_spectrum(envelope(x[None, None, :].astype(np.float32)))[0, 0]
    assert amp[5:].argmax() + 5 == pytest.approx(rate * n / FS, abs=1)


def test_envelope_features_find_bpfo_with_rpm_drift():
    rpm = 1750.0
    bpfo = BEARINGS["6205"].frequencies(rpm)["BPFO"]
    n = 4096
    burst = np.exp(-np.arange(40) / 8.0) * np.sin(2 * np.pi * 3500 * np.arange(40) / FS)
    x = np.zeros(n)
    # actual speed 2 % off the nominal rpm the extractor is told
    for start in (np.arange(0, n / FS, 1 / (bpfo * 1.02)) * FS).astype(int):
        x[start : start + 40] += burst[: n - start]
    X = x[None, None, :].astype(np.float32)
    f = feat(X, groups=("envelope",), sampling_rate=FS, rpm=rpm, envelope_nfft=8192)
    assert f["env_BPFO_h1_snr"][0] > 5 * f["env_BPFI_h1_snr"][0]
    assert f["env_BPFO_h1"][0] > f["env_BSF_h1"][0]
    assert len(envelope_targets("6205", rpm, 3)) == 12


def test_feature_names_match_columns_and_channel_prefixes():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 2, 512)).astype(np.float32)
    fx = FeatureExtractor(
        groups=("time", "spectral", "envelope"),
        n_bands=16,
        sampling_rate=FS,
        rpm=1797,
        channels=("DE", "FE"),
    )
    F = fx.transform(X)
    names = fx.feature_names
    assert F.shape == (4, len(names)) == (4, 2 * (18 + 16 + 8 + 24))
    assert len(set(names)) == len(names)
    assert names[0] == "DE_mean" and names[len(names) // 2] == "FE_mean"
    # channel-major layout: the FE block of window 0 equals features of the FE channel alone
    fe_alone = FeatureExtractor(
        groups=("time", "spectral", "envelope"), n_bands=16, sampling_rate=FS, rpm=1797
    ).transform(X[:, 1:])
    np.testing.assert_allclose(F[:, len(names) // 2 :], fe_alone, rtol=1e-5)
    # chunking does not change values
    small = clone(fx).set_params(chunk_size=3).transform(X)
    np.testing.assert_allclose(small, F, rtol=1e-5)


def test_config_errors_name_the_value():
    with pytest.raises(ConfigError, match="wavelet"):
        FeatureExtractor(groups=("time", "wavelet"))
    with pytest.raises(ConfigError, match="rpm"):
        FeatureExtractor(groups=("envelope",), sampling_rate=FS)
    with pytest.raises(ConfigError, match="6309"):
        FeatureExtractor(groups=("envelope",), sampling_rate=FS, rpm=1797, bearing="6309")


def test_real_cwru_outer_race_vs_normal(cwru_dir):
    """On real data the OR fault's envelope shows BPFO and its kurtosis exceeds normal's."""
    from scipy.signal import resample_poly

    def windows(file: str, rate: int) -> np.ndarray:
        sig = find_channel(load_mat(cwru_dir / file), "DE", cwru_dir / file)
        if rate != 12000:
            sig = resample_poly(sig.astype(np.float64), 1, rate // 12000).astype(np.float32)
        n = len(sig) // 4096
        return sig[: n * 4096].reshape(n, 1, 4096)[:20]

    outer, normal = windows("130.mat", 12000), windows("97.mat", 48000)
    kw = dict(groups=("time", "envelope"), sampling_rate=FS, rpm=1797, harmonics=2)
    fo, fn = feat(outer, **kw), feat(normal, **kw)
    assert np.median(fo["kurtosis"]) > np.median(fn["kurtosis"]) + 1
    assert np.median(fo["env_BPFO_h1_snr"]) > 3 * np.median(fo["env_BPFI_h1_snr"])
    assert np.median(fo["env_BPFO_h1_snr"]) > 3 * np.median(fn["env_BPFO_h1_snr"])


def test_each_channel_searched_for_its_own_bearing():
    """DE sensor on a 6205, FE sensor on a 6203: BPFO differs (107 vs 91 Hz at 1797 rpm)."""
    rpm, n = 1797.0, 8192
    burst = np.exp(-np.arange(40) / 8.0) * np.sin(2 * np.pi * 3500 * np.arange(40) / FS)

    def train_of(rate: float) -> np.ndarray:
        x = np.zeros(n)
        for start in (np.arange(0, n / FS, 1 / rate) * FS).astype(int):
            x[start : start + 40] += burst[: n - start]
        return x

    X = np.stack([train_of(BEARINGS[b].frequencies(rpm)["BPFO"]) for b in ("6205", "6203")])
    X = X[None].astype(np.float32)
    kw = dict(groups=("envelope",), sampling_rate=FS, rpm=rpm, channels=("DE", "FE"))
    own = feat(X, bearing=("6205", "6203"), **kw)
    same = feat(X, bearing="6205", **kw)
    assert own["DE_env_BPFO_h1_snr"][0] == pytest.approx(same["DE_env_BPFO_h1_snr"][0])
    assert own["FE_env_BPFO_h1_snr"][0] > 3 * same["FE_env_BPFO_h1_snr"][0]
    with pytest.raises(ConfigError, match="6309"):
        FeatureExtractor(groups=("envelope",), sampling_rate=FS, rpm=rpm, bearing=("6205", "6309"))


def test_drop_removes_named_columns():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 2, 256)).astype(np.float32)
    full = FeatureExtractor(groups=("time",), channels=("a", "b"))
    thin = FeatureExtractor(groups=("time",), channels=("a", "b"), drop=("mean", "kurtosis"))
    F, G = full.transform(X), thin.transform(X)
    assert G.shape == (3, 2 * 16) and "a_mean" not in thin.feature_names
    keep = [i for i, n in enumerate(full.feature_names) if n in set(thin.feature_names)]
    np.testing.assert_array_equal(F[:, keep], G)
    with pytest.raises(ConfigError, match="kurtosys"):
        FeatureExtractor(groups=("time",), drop=("kurtosys",)).transform(X)
