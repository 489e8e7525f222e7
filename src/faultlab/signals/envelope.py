"""Demodulation and the squared envelope spectrum (SES), vectorised over ``[n, C, L]``.

A local bearing defect strikes at a fixed rate; each strike rings a structural resonance at
kHz. The rate shows in the spectrum of the *squared envelope* of the band where the ringing
dominates, not in the raw spectrum. The band is chosen per window by one of:

- ``cpw``: cepstral pre-whitening (Borghesani et al. 2013): divide the spectrum by its own
  magnitude, which flattens resonances and removes discrete gear/shaft lines, so every band
  contributes and no band has to be picked. Cheap (two FFTs) and blind;
- ``kurtogram``: the band of a dyadic filter bank (levels 1..``levels``) whose complex
  envelope is most impulsive (spectral kurtosis, Antoni's fast kurtogram on its 1/2^k tree);
- ``(lo, hi)``: a fixed band in Hz; ``none``: the whole spectrum.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from faultlab.utils.fft import ifft, ifft32, irfft32, rfft, rfft32

BAND_METHODS = ("cpw", "kurtogram", "none")


def analytic_spectrum(X: np.ndarray) -> np.ndarray:
    """Positive-frequency half of the analytic signal's spectrum of ``X [..., L]`` (complex64).

    Bins ``0 .. L // 2`` (DC zeroed: it carries no modulation; the rest doubled, except the
    Nyquist bin of an even ``L``); ``ifft(H, n=L)`` is the analytic signal.
    """
    L = X.shape[-1]
    H = rfft(X.astype(np.float32, copy=False), axis=-1)
    H[..., 0] = 0
    last = H.shape[-1] - 1 if L % 2 == 0 else H.shape[-1]
    if H.dtype == np.complex64 and H.flags.c_contiguous:  # both parts x 2: one real pass
        H.view(np.float32)[..., 2 : 2 * last] *= np.float32(2)
    else:
        H[..., 1:last] *= 2
    return H


@functools.lru_cache(maxsize=8)
def _hann(L: int) -> np.ndarray:
    return np.hanning(L + 1)[:-1].astype(np.float32)  # periodic Hann


def whiten(H: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``H / |H|`` (cepstral pre-whitening; bins of magnitude 0, such as DC, stay 0).

    Multiplies by the float32 reciprocal: numpy divides a complex number by a real one as
    ``(re * (1 / m), im * (1 / m))``, and a complex product by ``1 / m + 0i`` gives those
    same numbers (the cross terms are products with 0, exact) in one contiguous pass, about
    1 us a window less than two passes over the strided real and imaginary views. ``out``
    (complex64, at least as long as ``H`` on the last axis) receives the result in its first
    bins.
    """
    inv = np.abs(H)
    np.maximum(inv, np.float32(1e-30), out=inv)
    np.divide(np.float32(1.0), inv, out=inv)
    if out is None:
        out = np.empty_like(H)
    dst = out[..., : H.shape[-1]]
    np.multiply(H, inv, out=dst)  # written straight into the buffer
    return dst


def kurtogram_bands(H: np.ndarray, levels: int = 3, min_bins: int = 8) -> list[tuple[int, int]]:
    """Bin ranges ``[lo, hi)`` of the dyadic filter bank over the positive half of ``H``."""
    n_pos = H.shape[-1]
    bands = []
    for level in range(1, levels + 1):
        edges = np.linspace(1, n_pos, 2**level + 1).astype(int)
        bands += [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b - a >= min_bins]
    return bands


def spectral_kurtosis(H: np.ndarray, bands: Sequence[tuple[int, int]]) -> np.ndarray:
    """``[..., B]`` kurtosis of the complex envelope of each band (0 for Gaussian noise)."""
    out = np.empty(H.shape[:-1] + (len(bands),), dtype=np.float32)
    for b, (lo, hi) in enumerate(bands):  # a dozen bands: the loop is over bands, not windows
        e2 = np.abs(ifft(H[..., lo:hi], axis=-1)) ** 2  # band shifted to DC
        out[..., b] = (e2**2).mean(-1) / np.maximum(e2.mean(-1) ** 2, 1e-30) - 2.0
    return out


def select_band(
    H: np.ndarray,
    method: str | tuple[float, float] | None,
    sampling_rate: float,
    levels: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Analytic spectrum ``H`` restricted to the chosen band, and the band per window (Hz).

    Returns ``(H_band, band_hz [..., 2])``.
    """
    n_pos = H.shape[-1]
    df = sampling_rate / 2 / max(n_pos - 1, 1)
    shape = H.shape[:-1]
    if method is None or method == "none":
        return H, np.broadcast_to(np.array([0.0, sampling_rate / 2], np.float32), shape + (2,))
    if method == "cpw":
        return whiten(H), np.broadcast_to(
            np.array([0.0, sampling_rate / 2], np.float32), shape + (2,)
        )
    if method == "kurtogram":
        bands = kurtogram_bands(H, levels)
        sk = spectral_kurtosis(H, bands)
        best = sk.argmax(-1)
        edges = np.asarray(bands)  # [B, 2]
        lo, hi = edges[best, 0], edges[best, 1]
        k = np.arange(n_pos)
        keep = (k >= lo[..., None]) & (k < hi[..., None])
        return H * keep, np.stack([lo * df, hi * df], -1).astype(np.float32)
    if isinstance(method, str):
        raise ValueError(f"band {method!r}: choose one of {BAND_METHODS} or [lo_hz, hi_hz]")
    lo_hz, hi_hz = float(method[0]), float(method[1])
    f = np.arange(n_pos) * df
    keep = (f >= lo_hz) & (f <= hi_hz)
    return H * keep, np.broadcast_to(np.array([lo_hz, hi_hz], np.float32), shape + (2,))


def _env2_into(
    H: np.ndarray,
    L: int,
    width: int,
    band: str | tuple[float, float] | None,
    sampling_rate: float,
    levels: int,
    single: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``(buf [..., width], band_hz)``: the mean-removed squared envelope of the chosen band
    of the analytic spectrum ``H`` in ``buf[..., :L]``, zeros after (``width >= L``: the
    zero-padding a later FFT needs, written once). ``H`` is kept. ``single``: the inverse
    FFT by :func:`~faultlab.utils.fft.ifft32` (the autocorrelation's path, see there)."""
    if band == "cpw":  # whiten straight into a zero-padded buffer the inverse FFT may reuse
        Z = np.empty(H.shape[:-1] + (L,), np.complex64)
        Z[..., H.shape[-1] :] = 0  # the rest is written by whiten
        whiten(H, out=Z)
        band_hz = np.broadcast_to(
            np.array([0.0, sampling_rate / 2], np.float32), H.shape[:-1] + (2,)
        )
        z = ifft32(Z) if single else ifft(Z, n=L, axis=-1, overwrite_x=True)
    else:
        Hb, band_hz = select_band(H, band, sampling_rate, levels)
        # the analytic signal of the band
        z = ifft32(Hb, n=L) if single else ifft(Hb, n=L, axis=-1)
    buf = np.empty(H.shape[:-1] + (width,), np.float32)
    buf[..., L:] = 0.0
    env2 = buf[..., :L]
    _squared_magnitude(z, out=env2)
    env2 -= env2.mean(axis=-1, keepdims=True)  # its DC would leak into low orders
    return buf, band_hz


def _acf_env2(
    X: np.ndarray,
    H: np.ndarray,
    band: str | tuple[float, float] | None,
    sampling_rate: float,
    levels: int,
) -> np.ndarray:
    """``buf [..., 2L]``: the mean-removed squared envelope of ``band`` of windows ``X``
    (analytic spectrum ``H``) in ``buf[..., :L]``, zeros after: the autocorrelation's input.

    The whole band (``none``, what every shipped model reads) without the complex inverse
    FFT: the analytic signal's real part is the window less its mean, its imaginary part
    the Hilbert transform, ``irfft(-i H / 2)`` (half the points of the complex transform;
    4.5 us a window less on this machine). Other bands: :func:`_env2_into`."""
    X = np.asarray(X, dtype=np.float32)  # what H is the spectrum of
    L = X.shape[-1]
    if band not in (None, "none"):
        return _env2_into(H, L, 2 * L, band, sampling_rate, levels, single=True)[0]
    from faultlab.signals.acf_kernel import squared_envelope_padded  # numba: on first use

    # -i H / 2 (one complex pass, exact); irfft reads no imaginary part at DC or Nyquist
    h = irfft32(np.multiply(H, np.complex64(-0.5j)), n=L)
    buf = np.empty(H.shape[:-1] + (2 * L,), np.float32)
    # its mean removed too: its DC would bias every lag
    squared_envelope_padded(X.reshape(-1, L), h.reshape(-1, L), buf.reshape(-1, 2 * L))
    return buf


def _squared_magnitude(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``z.real * z.real + z.imag * z.imag`` into ``out``; ``z`` (ours) is clobbered."""
    if z.dtype != np.complex64 or not z.flags.c_contiguous:
        np.multiply(np.real(z), np.real(z), out=out)
        out += np.imag(z) * np.imag(z)
        return out
    v = z.view(np.float32)  # re, im interleaved: square them in one contiguous pass
    np.square(v, out=v)
    return np.add(v[..., 0::2], v[..., 1::2], out=out)


def _acf_of_padded(buf: np.ndarray, L: int) -> np.ndarray:
    """:func:`autocorrelation` of ``buf[..., :L]`` (``buf [..., 2L]``, zeros after L).

    Its FFTs (and those of the envelope it is of: ``_env2_into(..., single=True)``) are
    :mod:`faultlab.utils.fft`'s torch ones, about twice scipy's speed here; they move the
    autocorrelation by rounding only (under 1e-6 of lag 0 over the lags the front end
    reads). The spectrum's FFTs stay on scipy, so its numbers stay as they were: untapered,
    the DC bin of a mean-removed envelope is rounding noise that any other FFT moves."""
    from faultlab.signals.acf_kernel import power_spectrum, unbiased_normalised

    F = rfft32(buf)
    # the power spectrum as a complex array with zero imaginary part: irfft copies nothing
    power_spectrum(F.reshape(-1, F.shape[-1]))
    r = irfft32(F, n=2 * L)
    out = np.empty(r.shape[:-1] + (L,), np.float32)
    unbiased_normalised(r.reshape(-1, 2 * L), out.reshape(-1, L))  # lag k: L - k products
    return out


def _ses_of_padded(buf: np.ndarray, L: int, taper: str, n_bins: int | None = None) -> np.ndarray:
    """:func:`envelope_spectrum` of ``buf[..., :L]`` (zeros after L; tapered in place),
    its first ``n_bins`` bins (default: all)."""
    gain = np.float32(2.0 / L)
    if taper == "hann":
        w = _hann(L)
        buf[..., :L] *= w
        gain = np.float32(2.0 / w.sum())  # a sinusoid of amplitude A still reads A
    F = rfft(buf, axis=-1)
    S = np.abs(F[..., :n_bins] if n_bins is not None and n_bins < F.shape[-1] else F)
    S *= gain
    return S.astype(np.float32, copy=False)


def squared_envelope(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "none",
    levels: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-removed squared envelope ``[..., L]`` (float32) of the chosen band of ``X``.

    Returns ``(env2, band_hz [..., 2])``.
    """
    L = X.shape[-1]
    return _env2_into(analytic_spectrum(X), L, L, band, sampling_rate, levels)


def autocorrelation(env2: np.ndarray) -> np.ndarray:
    """Unbiased autocorrelation ``[..., L]`` of ``env2`` divided by its lag-0 value."""
    L = env2.shape[-1]
    buf = np.zeros(env2.shape[:-1] + (2 * L,), np.float32)
    buf[..., :L] = env2
    return _acf_of_padded(buf, L)


def envelope_autocorrelation(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "none",
    levels: int = 3,
) -> np.ndarray:
    """Unbiased autocorrelation of the squared envelope, divided by its lag-0 value.

    ``[..., L]`` (lag in samples). Why beside the spectrum: a short window's envelope
    spectrum resolves lines only to ``sampling_rate / L`` (0.4 order for 1024 samples at
    12 kHz and 1800 rpm), which blurs BPFO, 2xBSF and BPFI's sidebands together; the
    autocorrelation of the broadband impulse train peaks at the impact *period* with a
    width set by the impulse, not the window, so periods 1 % apart stay apart.
    """
    L = X.shape[-1]
    return _acf_of_padded(_acf_env2(X, analytic_spectrum(X), band, sampling_rate, levels), L)


def envelope_spectrum(env2: np.ndarray, nfft: int | None = None, taper: str = "hann") -> np.ndarray:
    """Amplitude spectrum ``[..., nfft // 2 + 1]`` of a squared envelope ``env2 [..., L]``."""
    L = env2.shape[-1]
    buf = np.zeros(env2.shape[:-1] + (max(nfft or L, L),), np.float32)
    buf[..., :L] = env2
    return _ses_of_padded(buf, L, taper)


def squared_envelope_spectrum(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "cpw",
    nfft: int | None = None,
    levels: int = 3,
    taper: str = "hann",
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the mean-removed squared envelope of ``X [..., L]``.

    ``taper: hann`` windows the squared envelope before its FFT: without it the slow
    wander of the envelope leaks a comb of sidelobes every ``sampling_rate / L`` Hz (0.4
    order for 1024 samples at 12 kHz and 1800 rpm, right where cage (FTF) lines would be).

    Returns ``(ses [..., nfft // 2 + 1], band_hz [..., 2])``; bin ``k`` is at
    ``k * sampling_rate / nfft`` Hz. ``nfft`` (>= L) zero-pads for a finer grid.
    """
    L = X.shape[-1]
    width = max(nfft or L, L)
    buf, band_hz = _env2_into(analytic_spectrum(X), L, width, band, sampling_rate, levels)
    return _ses_of_padded(buf, L, taper), band_hz


def envelope_spectra(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "cpw",
    nfft: int | None = None,
    levels: int = 3,
    taper: str = "hann",
    acf_band: str | tuple[float, float] | None = None,
    n_bins: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`squared_envelope_spectrum` and (``acf_band`` not None) the
    :func:`envelope_autocorrelation` of that band, from ONE forward FFT of ``X``.

    Returns ``(ses, band_hz, acf or None)``, the same numbers as the two functions;
    ``n_bins``: keep only the first bins of ``ses`` (all a caller reads; saves work).
    """
    L = X.shape[-1]
    H = analytic_spectrum(X)
    acf = None
    if acf_band is not None:
        acf = _acf_of_padded(_acf_env2(X, H, acf_band, sampling_rate, levels), L)
    buf, band_hz = _env2_into(H, L, max(nfft or L, L), band, sampling_rate, levels)
    return _ses_of_padded(buf, L, taper, n_bins), band_hz, acf
