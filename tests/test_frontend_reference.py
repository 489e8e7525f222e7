"""The vectorised order-envelope front end against a straightforward reference.

The reference below reads like the definitions in the docstrings of
:mod:`faultlab.signals.envelope`, :mod:`faultlab.features.order_envelope`,
:mod:`faultlab.features.periodicity` and :mod:`faultlab.features.defect_contrast`: one window
and one channel at a time, ``np.interp`` for every read, ``np.median`` / ``np.quantile`` for
every floor. The fast path (one FFT shared by the spectrum and the autocorrelation, blocks of
windows, reads planned once per recording, sorting networks for small medians) must give the
same numbers (``REL``: relative to each column's scale), for every front end a shipped model
uses, on 12 and 48 kHz, one and two channels (two bearings).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from faultlab.data.synthetic import SyntheticConfig, generate
from faultlab.features import defect_contrast as dc
from faultlab.features.order_envelope import FLOOR_MIN_ORDER, OrderEnvelopeConfig, order_envelope
from faultlab.features.periodicity import IMPACT_RATE, fault_families
from faultlab.signals.geometry import orders_table
from faultlab.utils.order_stats import median_last, selection_network, sorting_network

REL = 1e-5

ENVELOPE = {"scale": "linear", "periodicity": 3}  # envelope's front end (linenet: log)
CONTRAST = {"contrast": True, "harmonics": 1, "half_width": 0.0}  # linenet/ensemble-contrast
VARIANTS = {
    "default": {},
    "envelope": ENVELOPE,
    "linenet": {**ENVELOPE, "scale": "log"},
    "contrast": CONTRAST,
    "envelope-contrast": {**CONTRAST, "scale": "linear"},
    "order-axis": {"axis": "order", "max_order": 12.0},
    "kurtogram": {"band": "kurtogram", "periodicity": 1},
    "fixed-band+no-taper": {"band": (2000.0, 5000.0), "taper": "none", "zero_pad": 1},
}


# ----------------------------------------------------------------------------- reference
def _ses_and_acf(x: np.ndarray, fs: float, cfg: OrderEnvelopeConfig):
    """One window ``x [L]``: squared envelope spectrum of ``cfg.band``, and the normalised
    unbiased autocorrelation of the squared envelope of ``cfg.periodicity_band``."""
    from faultlab.signals.envelope import select_band

    L = len(x)
    H = scipy.fft.rfft(x.astype(np.float32))
    H[0] = 0
    H[1 : (len(H) - 1 if L % 2 == 0 else len(H))] *= 2

    def env2(band):
        Hb = select_band(H[None], band, fs, cfg.kurtogram_levels)[0][0]
        z = scipy.fft.ifft(Hb, n=L)
        e = z.real * z.real + z.imag * z.imag
        return e - e.mean()

    e = env2(tuple(cfg.band) if isinstance(cfg.band, (list, tuple)) else cfg.band)
    w = np.hanning(L + 1)[:-1].astype(np.float32) if cfg.taper == "hann" else np.ones(L, np.float32)
    S = np.abs(scipy.fft.rfft(e * w, n=cfg.zero_pad * L)) * np.float32(2.0 / w.sum())
    a = env2(cfg.periodicity_band)
    F = scipy.fft.rfft(a, n=2 * L)
    r = scipy.fft.irfft(F.real**2 + F.imag**2, n=2 * L)[:L] / np.arange(L, 0, -1)
    return S, r / max(r[0], 1e-30)


def _read(v: np.ndarray, pos, limit: float) -> np.ndarray:
    """``v`` at fractional indices ``pos``; past ``limit`` reads 0 (no evidence)."""
    pos = np.asarray(pos, np.float64)
    at = np.interp(np.clip(pos, 0, len(v) - 1.001), np.arange(len(v)), v)
    return np.where(pos > limit, 0.0, at)


def _contrast(x, S, acf, fs, nfft, fr, fo_all, c, cfg):
    """``[2F + 1]`` of channel ``c``: robust z of each family's line and period evidence
    against decoy orders, and log kurtosis. The decoys avoid every channel's impact orders
    (``fo_all [C, F]``) and the ball's sidebands sit at channel 0's FTF, as the front end
    has it."""
    fams, fam = fault_families(cfg.families), list(cfg.families)
    impacts = [[fo[fam.index(f)] * IMPACT_RATE[f] for f in fams] for fo in fo_all]
    excl = []
    for imp_c in impacts:
        excl += imp_c
        if "BPFI" in fams:
            excl += [imp_c[fams.index("BPFI")] - 1, imp_c[fams.index("BPFI")] + 1]
    decoys = dc.decoy_orders(np.array(excl), cfg.contrast_step)
    imp = impacts[c]
    ftf = fo_all[0][fam.index("FTF")] if "FTF" in fam else 0.4
    off, lag_off = dc.LINE_OFFSETS, dc.LAG_OFFSETS

    def line(t, d):
        e = 0.0
        for h in (1, 2):
            p = _read(S, (h * t + off) * fr * nfft / fs, nfft // 2)
            floor = max(np.median(p[np.abs(off) >= 0.5 - 1e-9]), 1e-20)
            v = np.log(max(p[np.abs(off) <= 0.1 + 1e-9].max() / floor, 1.0))
            if d > 0:
                lo, hi = (
                    p[np.abs(off + d) <= 0.1 + 1e-9].max(),
                    p[np.abs(off - d) <= 0.1 + 1e-9].max(),
                )
                v += 0.5 * np.log(max(0.5 * (lo + hi) / floor, 1.0))
            e += 0.5 * v
        return e

    def period(t):
        out = []
        for m in (1, 2, 3):
            a = _read(acf, fs / (fr * t) * m * (1 + lag_off), len(acf) - 1)
            out.append(
                a[np.abs(lag_off) <= 0.02 + 1e-9].max()
                - np.median(a[np.abs(lag_off) >= 0.05 - 1e-9])
            )
        return np.mean(out)

    def z(true, dec):
        q1, med, q3 = np.quantile(dec, [0.25, 0.5, 0.75])
        return (true - med) / max((q3 - q1) / 1.349, 1e-3)

    sb = {"BPFI": 1.0, "BSF": ftf}
    lines = [
        z(line(t, sb.get(f, 0)), [line(d, sb.get(f, 0)) for d in decoys]) for f, t in zip(fams, imp)
    ]
    dec_period = [period(d) for d in decoys]
    periods = [z(period(t), dec_period) for t in imp]
    xc = x.astype(np.float64) - x.mean()
    kurt = np.mean(xc**4) / max(np.mean(xc**2) ** 2, 1e-30)
    return lines + periods + [np.log(max(kurt, 1e-6) / 3.0)]


def reference(X, fs, shaft_hz, family_orders, cfg: OrderEnvelopeConfig) -> np.ndarray:
    """The front end, one window and channel at a time."""
    n, C, L = X.shape
    nfft = cfg.zero_pad * L
    grid = cfg.grid()
    out = np.zeros((n, C, cfg.n_outputs))
    for i in range(n):
        for c in range(C):
            S, acf = _ses_and_acf(X[i, c], fs, cfg)
            fr, fo = shaft_hz[i], family_orders[i, c]
            scale = fr * nfft / fs
            floor = max(
                np.median(_read(S, grid[grid >= FLOOR_MIN_ORDER] * scale, nfft // 2)), 1e-20
            )
            if cfg.axis == "order":
                orders = grid
            else:
                orders = [
                    fo[j] * h + o
                    for j in range(len(fo))
                    for h in range(1, cfg.harmonics + 1)
                    for o in cfg.offsets
                ]
            spec = _read(S, np.asarray(orders) * scale, nfft // 2) / floor
            row = list(np.log1p(spec) if cfg.scale == "log" else spec)
            fam = list(cfg.families)
            for f in fault_families(cfg.families):  # periodicity block
                period = fs / (fr * fo[fam.index(f)] * IMPACT_RATE[f])
                for m in range(1, cfg.periodicity + 1):
                    row += list(_read(acf, period * m * (1 + cfg.lag_offsets), L - 2))
            if cfg.contrast:
                row += _contrast(X[i, c], S, acf, fs, nfft, fr, family_orders[i], c, cfg)
            out[i, c] = row
    return out


# ----------------------------------------------------------------------------- inputs
def _windows(fs: float, window: int, n_per: int = 3):
    """Impulsive fault windows (IR, B, OR at two speeds), noise, and an all-zero window."""
    recs = generate(
        SyntheticConfig(sampling_rate=fs, duration_s=0.5, sizes=[0.014], snr_db=0.0, loads=[0, 3])
    )
    X, rpm = [], []
    for r in recs:
        X.append(r.signal[:, : n_per * window].reshape(1, n_per, window).transpose(1, 0, 2))
        rpm += [r.meta["rpm"]] * n_per
    noise = np.random.default_rng(0).standard_normal((3, 1, window)).astype(np.float32)
    X = np.concatenate(X + [noise, np.zeros((1, 1, window), np.float32)])
    return X, np.asarray(rpm + [1500.0] * 3 + [1797.0]) / 60.0


def _close(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest difference relative to each output column's scale (0 where both are 0)."""
    scale = np.maximum(np.abs(ref).max(axis=(0, 1), keepdims=True), 1e-6)
    return float((np.abs(got - ref) / scale).max())


@pytest.mark.parametrize("name", list(VARIANTS))
def test_front_end_matches_the_reference(name):
    cfg = OrderEnvelopeConfig.model_validate({**VARIANTS[name], "chunk_size": 5})
    X, shaft = _windows(12000.0, 1024)
    fo = orders_table(np.full((len(X), 1), "6205"), cfg.families)
    got, _ = order_envelope(X, 12000.0, shaft, fo, cfg)
    assert _close(got, reference(X, 12000.0, shaft, fo, cfg)) <= REL


@pytest.mark.parametrize("name", ["default", "envelope", "contrast"])
def test_two_channels_two_bearings_at_48_khz_match_the_reference(name):
    cfg = OrderEnvelopeConfig.model_validate(VARIANTS[name])
    X, shaft = _windows(48000.0, 2048, n_per=1)
    X = np.concatenate([X, 0.5 * X[::-1]], axis=1)  # another bearing on channel 2
    bearings = np.stack([np.full(len(X), "6205"), np.full(len(X), "6203")], axis=1)
    fo = orders_table(bearings, cfg.families)
    got, _ = order_envelope(X, 48000.0, shaft, fo, cfg)
    assert _close(got, reference(X, 48000.0, shaft, fo, cfg)) <= REL


def test_blocks_and_threads_do_not_change_a_bit():
    cfg = OrderEnvelopeConfig.model_validate({**CONTRAST, "periodicity": 2})
    X, shaft = _windows(12000.0, 1024)
    fo = orders_table(np.full((len(X), 1), "6205"), cfg.families)
    whole, _ = order_envelope(X, 12000.0, shaft, fo, cfg)
    small = cfg.model_copy(update={"chunk_size": 4})
    np.testing.assert_array_equal(order_envelope(X, 12000.0, shaft, fo, small)[0], whole)
    np.testing.assert_array_equal(order_envelope(X, 12000.0, shaft, fo, small, workers=2)[0], whole)
    with scipy.fft.set_workers(2):  # the default follows scipy.fft's workers
        np.testing.assert_array_equal(order_envelope(X, 12000.0, shaft, fo, small)[0], whole)


def median_of(wires: list[np.ndarray]) -> np.ndarray:
    """The median of ``wires`` by :func:`selection_network`, as the contrast kernel runs it
    (min / max compare-exchanges, then the middle wire or the mean of the two)."""
    w = list(wires)
    n = len(w)
    lo, hi = (n - 1) // 2, n // 2
    for a, b, need_min, need_max in selection_network(n, tuple(sorted({lo, hi}))):
        small, large = np.minimum(w[a], w[b]), np.maximum(w[a], w[b])
        w[a] = small if need_min else w[a]
        w[b] = large if need_max else w[b]
    return w[lo] if lo == hi else (w[lo] + w[hi]) * w[lo].dtype.type(0.5)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 16, 20])
def test_small_medians_are_numpy_medians(n):
    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, 7, 9)).astype(np.float32)
    A[:, 0, 0] = 1.0  # ties
    expected = np.median(A, axis=0)
    np.testing.assert_array_equal(median_of([a.copy() for a in A]), expected)
    np.testing.assert_array_equal(median_last(np.moveaxis(A, 0, -1)), expected)
    x = list(rng.standard_normal(n))
    for a, b in sorting_network(n):  # the network sorts
        if x[a] > x[b]:
            x[a], x[b] = x[b], x[a]
    assert x == sorted(x)


def test_quantiles_by_sort_are_numpy_quantiles():
    rng = np.random.default_rng(0)
    for D in (1, 2, 3, 4, 52, 53, 54, 55):
        A = rng.standard_normal((6, D)).astype(np.float32)
        got = dc._quantiles(A, (0.25, 0.5, 0.75))
        for g, e in zip(got, np.quantile(A, [0.25, 0.5, 0.75], axis=-1)):
            np.testing.assert_array_equal(g, e)
    assert np.isnan(median_last(np.array([1.0, np.nan, 2.0], np.float32)))
