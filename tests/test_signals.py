"""Physics below the features: bearing lookup, shaft speed, squared envelope spectrum, order axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultlab.data.synthetic import SyntheticConfig, generate
from faultlab.errors import DataError
from faultlab.features.order_envelope import OrderEnvelopeConfig, order_envelope
from faultlab.features.periodicity import relative_offsets, sample_periodicity
from faultlab.signals.envelope import envelope_autocorrelation, squared_envelope_spectrum
from faultlab.signals.geometry import bearing_for, bearings_per_window, defect_orders, orders_table
from faultlab.signals.speed import estimate_shaft_speed, resolve_rpm
from faultlab.utils.fft import ifft, ifft32, irfft, irfft32, rfft, rfft32


def test_bearing_for_prefers_an_explicit_key_then_the_cwru_end():
    assert bearing_for({"bearing": "6203", "sensor_end": "DE"}) == "6203"
    assert bearing_for({"sensor_end": "DE"}) == "6205"
    assert bearing_for({"sensor_end": "DE+FE"}, channel="FE") == "6203"
    with pytest.raises(DataError, match="no bearing geometry"):
        bearing_for({"recording_id": "x", "sensor_end": "ch0"})
    with pytest.raises(DataError, match="unknown"):
        bearing_for({"bearing": "nope"})
    info = pd.DataFrame(
        {
            "recording_id": ["a", "a", "b"],
            "sensor_end": ["DE", "DE", "DE"],
            "bearing": [None, None, "6203"],
        }
    )
    assert bearings_per_window(info, ["DE"])[:, 0].tolist() == ["6205", "6205", "6203"]
    assert orders_table(np.array([["6205"]]), ("BPFO",))[0, 0] == pytest.approx(3.5848, abs=1e-3)


def _am_impacts(fs, seconds, rate_hz, shaft_hz, seed=0):
    """Resonance ringing struck at ``rate_hz`` plus shaft harmonics and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    x = 0.2 * np.sin(2 * np.pi * shaft_hz * t) + 0.1 * np.sin(4 * np.pi * shaft_hz * t + 1)
    for k in range(3, 9):
        x += 0.03 * np.sin(2 * np.pi * k * shaft_hz * t + k)
    idx = (np.arange(0, seconds, 1 / rate_hz) * fs).astype(int)
    train = np.zeros_like(t)
    train[idx] = 1.0
    ring = np.exp(-800 * t[:200]) * np.sin(2 * np.pi * 3000 * t[:200])
    return x + np.convolve(train, ring)[: t.size] + 0.05 * rng.standard_normal(t.size)


def test_speed_estimate_finds_the_shaft_not_the_defect_rate():
    fs, fr = 12000.0, 29.3
    x = _am_impacts(fs, 8.0, 3.585 * fr, fr)  # an outer-race rate that is not a shaft multiple
    est = estimate_shaft_speed(x, fs)
    assert est.rpm == pytest.approx(60 * fr, rel=0.005)
    rpm, source = resolve_rpm({}, x, fs)
    assert source == "estimated" and rpm == pytest.approx(60 * fr, rel=0.005)
    assert resolve_rpm({"rpm": 1750, "rpm_source": "nominal"}) == (1750.0, "catalogue")
    assert resolve_rpm({"rpm": 1750, "rpm_source": "file"}, override=1800) == (1800.0, "option")


def test_squared_envelope_spectrum_peaks_at_the_impact_rate():
    fs, rate = 12000.0, 107.0
    x = _am_impacts(fs, 1.0, rate, 29.0)[None, None, :4096].astype(np.float32)
    S, band = squared_envelope_spectrum(x, fs, "cpw", nfft=8192)
    f = np.arange(S.shape[-1]) * fs / 8192
    at_rate = S[0, 0, np.abs(f - rate) < fs / 4096].max()
    floor = np.median(S[0, 0, (f > 20) & (f < 1000)])
    assert at_rate > 5 * floor  # the impact rate stands far above the floor
    peak = f[f > 20][S[0, 0, f > 20].argmax()] / rate
    assert abs(peak - round(peak)) < 0.05  # and the highest line is one of its harmonics
    assert band.shape == (1, 1, 2)


def test_envelope_autocorrelation_peaks_at_the_impact_period():
    """The period shows to within a sample in a 1024-sample window, where the spectrum's
    bins are 0.4 order wide; the other families' periods read lower."""
    fs, fr = 12000.0, 29.0
    orders = {"BPFI": 5.415, "BSF": 2.357, "BPFO": 3.585}
    x = _am_impacts(fs, 1.0, orders["BPFO"] * fr, fr)[None, None, :1024].astype(np.float32)
    r = envelope_autocorrelation(x, fs, "none")
    assert r.shape == (1, 1, 1024) and r[0, 0, 0] == pytest.approx(1.0)
    period = fs / (orders["BPFO"] * fr)  # 115.4 samples
    lags = np.arange(60, 200)
    assert abs(lags[r[0, 0, 60:200].argmax()] - period) <= 1.5
    offs = relative_offsets(0.12, 0.02)
    fams = ("BSF", "BPFO", "BPFI")
    A = sample_periodicity(r, fs, fr, np.array([[orders[f] for f in fams]]), fams, 2, offs)
    assert A.shape == (1, 1, 3 * 2 * len(offs))
    at_period = A.reshape(3, 2, len(offs))[:, 0, len(offs) // 2]  # m = 1, offset 0
    assert int(np.argmax(at_period)) == fams.index("BPFO") and at_period.max() > 0.3
    far = sample_periodicity(r, fs, fr, np.array([[0.01, 0.01, 0.01]]), fams, 1, offs)
    assert not far.any()  # lags past the window read 0, not garbage


def _fault_windows(bearing, fs, rpm, window):
    cfg = SyntheticConfig(
        bearing=bearing,
        sampling_rate=fs,
        rpm={0: rpm},
        loads=[0],
        duration_s=1.0,
        normal=False,
        sizes=[0.014],
        snr_db=0.0,
    )
    recs = generate(cfg)
    X = np.stack(
        [r.signal[:, : (r.n_samples // window) * window].reshape(1, -1, window)[0] for r in recs]
    )  # [3 locations, n_windows, window]
    return X.reshape(-1, 1, window), np.repeat(np.arange(3), X.shape[1])


def test_single_precision_ffts_are_scipys_to_rounding_and_batch_free():
    """The torch FFTs of the autocorrelation path: the transforms scipy computes (within
    float32 rounding of the signal's scale), each window the same whatever its batch,
    read-only inputs (a memory-mapped store) taken by copy."""
    x = np.random.default_rng(0).standard_normal((7, 2, 1024)).astype(np.float32)
    F = rfft32(x, n=2048)
    np.testing.assert_allclose(F, rfft(x, n=2048), atol=1e-5 * np.abs(F).max())
    np.testing.assert_allclose(irfft32(F, n=2048), irfft(F, n=2048), atol=1e-5)
    z = ifft32(F[..., :513], n=1024)
    np.testing.assert_allclose(z, ifft(F[..., :513], n=1024), atol=1e-5)
    np.testing.assert_array_equal(
        np.concatenate([rfft32(x[i : i + 3]) for i in (0, 3, 6)]), rfft32(x)
    )
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(rfft32(ro), rfft32(x))
    assert F.dtype == np.complex64 and irfft32(F).dtype == np.float32 and z.dtype == np.complex64


def test_defect_axis_lines_up_other_speed_rate_and_bearing():
    """The same fault reads the same on the defect axis on another rig (the point of it)."""
    cfg = OrderEnvelopeConfig(scale="linear")
    outs = []
    for bearing, fs, rpm, window in (
        ("6205", 12000.0, 1797.0, 1024),
        ("6203", 48000.0, 1430.0, 4096),
    ):
        X, loc = _fault_windows(bearing, fs, rpm, window)
        fo = orders_table(np.full((len(X), 1), bearing), cfg.families)
        Y, _ = order_envelope(X.astype(np.float32), fs, np.full(len(X), rpm / 60), fo, cfg)
        outs.append(np.stack([Y[loc == i, 0].mean(0) for i in range(3)]))
        assert Y.shape == (len(X), 1, cfg.n_outputs)
    a, b = outs
    for i in range(3):  # each location's profile matches itself across rigs, not the others
        corr = [np.corrcoef(a[i], b[j])[0, 1] for j in range(3)]
        assert int(np.argmax(corr)) == i and corr[i] > 0.6
    assert defect_orders("6203")["BPFO"] != defect_orders("6205")["BPFO"]


def test_periodicity_block_is_appended_and_named():
    cfg = OrderEnvelopeConfig(periodicity=2, periodicity_span=0.1, periodicity_step=0.05)
    assert cfg.n_outputs == len(cfg.spectrum_names()) + 3 * 2 * 5  # BSF, BPFO, BPFI
    assert cfg.names()[-1] == "acf:BPFI2+0.10"
    X, _ = _fault_windows("6205", 12000.0, 1797.0, 1024)
    fo = orders_table(np.full((len(X), 1), "6205"), cfg.families)
    Y, _ = order_envelope(X.astype(np.float32), 12000.0, np.full(len(X), 29.95), fo, cfg)
    plain = OrderEnvelopeConfig()
    Y0, _ = order_envelope(X.astype(np.float32), 12000.0, np.full(len(X), 29.95), fo, plain)
    np.testing.assert_array_equal(Y[..., : plain.n_outputs], Y0)  # the spectrum is unchanged
    assert np.abs(Y[..., plain.n_outputs :]).max() <= 1.0 + 1e-5
    with pytest.raises(ValueError, match="periodicity"):
        OrderEnvelopeConfig(periodicity=2, families=("shaft", "FTF"))


def test_order_axis_output_has_a_fixed_length_and_names():
    cfg = OrderEnvelopeConfig(axis="order", max_order=10, resolution=0.1)
    X = np.random.default_rng(0).standard_normal((5, 2, 2048)).astype(np.float32)
    Y, _ = order_envelope(X, 25600.0, np.full(5, 25.0), None, cfg)
    assert Y.shape == (5, 2, 100) and len(cfg.names()) == 100 and np.isfinite(Y).all()


@pytest.mark.shared
@pytest.mark.slow
def test_speed_estimate_error_on_cwru_files_with_known_rpm(shared_data):
    """Tacho-less estimate vs the RPM stored in each CWRU file (12 kHz drive-end fault files).

    Measured (2026-11-30, 36 files, default 600-4000 rpm search range): median error 0.07 %,
    34 of 36 within 0.5 %; the misses are 188 (0.014 in ball, 3 HP, -1.1 %) and 237 (0.021 in
    outer race, 3 HP), read at BPFO / 2 (+80 %).
    """
    from faultlab.data import catalogue
    from faultlab.data.datasets.cwru import read_cwru

    cat = catalogue.load_catalogue()
    rows = cat[
        (cat["sampling_rate_hz"] == 12000)
        & (cat["condition"] == "fault")
        & (cat["fault_end"] == "DE")
    ]
    errors = []
    for number in rows["file"]:
        if not (shared_data / "cwru" / f"{number}.mat").exists():
            continue
        rec = read_cwru(int(number), data_dir=shared_data)
        if rec.meta.get("rpm_source") != "file":
            continue
        est = estimate_shaft_speed(rec.signal[0], rec.sampling_rate)
        errors.append(abs(est.rpm - rec.meta["rpm"]) / rec.meta["rpm"])
    errors = np.array(errors)
    assert len(errors) >= 30
    assert np.median(errors) < 0.002
    assert (errors < 0.01).mean() >= 0.9
