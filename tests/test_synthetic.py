"""The synthetic bearing generator: physics (envelope lines), SNR, determinism, metadata."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps
from scipy import stats
from sklearn.linear_model import LogisticRegression

from faultlab.data import synthetic as syn
from faultlab.data.bearings import BEARINGS
from faultlab.data.types import META_KEYS
from faultlab.errors import ConfigError

FS = 12000.0


def _short(**kw) -> syn.SyntheticConfig:
    return syn.SyntheticConfig(duration_s=kw.pop("duration_s", 2.0), **kw)


def envelope_spectrum(x: np.ndarray, fs: float = FS) -> tuple[np.ndarray, np.ndarray]:
    """Classic envelope analysis: band-pass around the resonance, |Hilbert|, Hann-windowed FFT."""
    sos = sps.butter(4, [2500, 4500], btype="bandpass", fs=fs, output="sos")
    env = np.abs(sps.hilbert(sps.sosfiltfilt(sos, np.asarray(x, dtype=np.float64))))
    env -= env.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    return np.fft.rfftfreq(len(env), 1 / fs), spec


def line_prominence(freqs, spec, f0: float, tol: float = 0.02) -> float:
    """Height of the envelope spectrum within +-tol of f0 over its median in 5-1000 Hz."""
    band = (freqs > 5) & (freqs < 1000)
    near = np.abs(freqs - f0) <= tol * f0
    return float(spec[near].max() / np.median(spec[band]))


def peak_frequency(freqs, spec) -> float:
    band = (freqs > 5) & (freqs < 1000)
    return float(freqs[band][np.argmax(spec[band])])


def _recording(recs, rid):
    return next(r for r in recs if r.recording_id == rid)


@pytest.fixture(scope="module")
def short_set():
    return syn.generate(_short(seed=3))


def test_generates_every_condition_with_stable_unique_ids(short_set):
    ids = [r.recording_id for r in short_set]
    assert len(ids) == 40 and len(set(ids)) == 40  # (normal + 3 x 3) x 4 loads
    assert "syn-IR-0.007-L1-r0" in ids and "syn-normal-L0-r0" in ids
    assert "syn-OR-0.021-L3-r0" in ids
    two = syn.generate(
        _short(locations=["B"], sizes=[0.014], normal=False, recordings_per_condition=2)
    )
    assert [r.recording_id for r in two] == [
        f"syn-B-0.014-L{ld}-r{k}" for ld in range(4) for k in range(2)
    ]


def test_meta_fields_are_set(short_set):
    rpm = {0: 1797, 1: 1772, 2: 1750, 3: 1730}
    for rec in short_set:
        assert set(META_KEYS) <= set(rec.meta)
        m = rec.meta
        assert m["dataset"] == "synthetic" and m["sensor_end"] == "DE"
        assert m["rpm"] == rpm[m["load_hp"]]
        assert rec.channels == ["DE"] and rec.sampling_rate == FS
        assert rec.signal.dtype == np.float32 and rec.signal.shape == (1, 24000)
        if m["condition"] == "normal":
            assert m["fault_location"] is None and m["fault_diameter_in"] is None
        else:
            assert m["condition"] == "fault" and m["fault_end"] == "DE"
            assert m["fault_location"] in {"IR", "B", "OR@6"}
            assert m["fault_diameter_in"] in {0.007, 0.014, 0.021}
            loc = m["fault_location"].split("@")[0]
            assert rec.recording_id == (
                f"syn-{loc}-{m['fault_diameter_in']:.3f}-L{m['load_hp']}-r0"
            )


@pytest.mark.parametrize("location", ["OR", "IR", "B"])
@pytest.mark.parametrize("load", [0, 3])
def test_envelope_spectrum_peaks_at_defect_frequency(short_set, location, load):
    rec = _recording(short_set, f"syn-{location}-0.007-L{load}-r0")
    fr = rec.meta["rpm"] / 60
    orders = BEARINGS["6205"].orders()
    expected = {"OR": orders["BPFO"], "IR": orders["BPFI"], "B": 2 * orders["BSF"]}[location] * fr
    freqs, spec = envelope_spectrum(rec.signal[0])
    assert abs(peak_frequency(freqs, spec) - expected) <= 0.02 * expected


def test_normal_has_no_bpfo_line_but_outer_race_does(short_set):
    bpfo = BEARINGS["6205"].frequencies(1797)["BPFO"]
    normal = line_prominence(
        *envelope_spectrum(_recording(short_set, "syn-normal-L0-r0").signal[0]), bpfo
    )
    outer = line_prominence(
        *envelope_spectrum(_recording(short_set, "syn-OR-0.007-L0-r0").signal[0]), bpfo
    )
    assert normal < 5 and outer > 50, (normal, outer)


def test_modulation_ir_by_shaft_ball_by_cage_outer_race_stationary(short_set):
    """Envelope lines of the modulation: IR at 1x shaft, ball at FTF (cage), OR@6 at neither."""
    fr = 1797 / 60
    ftf = BEARINGS["6205"].orders()["FTF"] * fr
    lines = {}
    for loc in ("IR", "B", "OR"):
        freqs, spec = envelope_spectrum(_recording(short_set, f"syn-{loc}-0.014-L0-r0").signal[0])
        lines[loc] = (
            line_prominence(freqs, spec, fr, 0.03),
            line_prominence(freqs, spec, ftf, 0.03),
        )
    assert lines["IR"][0] > 10 * max(lines["OR"][0], lines["B"][0]), lines
    assert lines["B"][1] > 10 * max(lines["OR"][1], lines["IR"][1]), lines


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_snr_matches_request(snr_db):
    cfg = _short(snr_db=snr_db, locations=["IR", "OR"], sizes=[0.007], loads=[0, 2])
    recs = syn.generate(cfg)
    for cond, rec in zip(syn.conditions(cfg), recs, strict=True):
        clean = syn.simulate(cfg, cond).clean
        noise = rec.signal[0].astype(np.float64) - clean
        measured = 10 * np.log10(np.mean(clean**2) / np.mean(noise**2))
        assert abs(measured - snr_db) < 1.0, (rec.recording_id, measured)


def test_same_seed_identical_different_seed_differs():
    a = syn.generate(_short(seed=7, loads=[1], sizes=[0.014]))
    b = syn.generate(_short(seed=7, loads=[1], sizes=[0.014]))
    c = syn.generate(_short(seed=8, loads=[1], sizes=[0.014]))
    assert all(np.array_equal(x.signal, y.signal) for x, y in zip(a, b, strict=True))
    for x, z in zip(a, c, strict=True):
        assert x.recording_id == z.recording_id
        assert not np.allclose(x.signal, z.signal)
    # a recording does not depend on what else is generated with it
    only_or = syn.generate(_short(seed=7, loads=[1], sizes=[0.014], locations=["OR"], normal=False))
    assert np.array_equal(only_or[0].signal, _recording(a, "syn-OR-0.014-L1-r0").signal)


def test_fault_energy_grows_with_size(short_set):
    rms = [
        float(np.sqrt(np.mean(_recording(short_set, f"syn-IR-{s}-L2-r0").signal ** 2)))
        for s in ("0.007", "0.014", "0.021")
    ]
    assert rms[0] < rms[1] < rms[2]


def _window_features(recs, length=1024):
    feats, faulty = [], []
    for rec in recs:
        x = rec.signal[0]
        w = x[: len(x) // length * length].reshape(-1, length)
        feats.append(np.c_[np.log(np.sqrt(np.mean(w**2, axis=1))), stats.kurtosis(w, axis=1)])
        faulty += [rec.meta["condition"] == "fault"] * len(w)
    return np.concatenate(feats), np.array(faulty)


def test_rms_and_kurtosis_separate_normal_from_faulty(short_set):
    """Train on loads 0-1, test on unseen loads 2-3 (a different seed too)."""
    train = [r for r in short_set if r.meta["load_hp"] in (0, 1)]
    test = [r for r in syn.generate(_short(seed=11, loads=[2, 3]))]
    Xtr, ytr = _window_features(train)
    Xte, yte = _window_features(test)
    clf = LogisticRegression(class_weight="balanced").fit(Xtr, ytr)
    acc = float((clf.predict(Xte) == yte).mean())
    assert acc >= 0.98, acc
    # and each feature alone points the right way
    assert Xte[yte, 0].min() > Xte[~yte, 0].max()  # log RMS
    assert np.median(Xte[yte, 1]) > np.median(Xte[~yte, 1]) + 3  # excess kurtosis


def test_from_config_dict_and_errors():
    recs = syn.from_config({"duration_s": 0.5, "loads": [2], "locations": ["B"], "sizes": [0.021]})
    assert [r.recording_id for r in recs] == ["syn-normal-L2-r0", "syn-B-0.021-L2-r0"]
    assert recs[0].n_samples == 6000
    with pytest.raises(ConfigError, match=r"data\.synthetic\.snr"):
        syn.from_config({"snr": 3})
    with pytest.raises(ConfigError, match=r"loads \[4\] have no rpm"):
        syn.from_config({"loads": [4]})
    with pytest.raises(ConfigError, match="Nyquist"):
        syn.from_config({"sampling_rate": 6000})
    with pytest.raises(ConfigError, match="bearing 'nope'"):
        syn.from_config({"bearing": "nope"})
