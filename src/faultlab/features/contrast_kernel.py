"""The contrast block's evidence in one compiled pass (numba) over tiles of windows.

What :mod:`faultlab.features.defect_contrast` reads, per window and candidate impact order
(the true ones, then the decoys): the envelope spectrum at 25 offsets around each of two
harmonics (floor: the median of the 16 far ones; peak: the max of the 3 near ones; the
sidebands' maxima), and the autocorrelation at 11 relative lags around 1..3 x the impact
period (peak: max of 3, floor: median of 8). In numpy that is a few hundred passes over
``[candidates, windows]`` arrays, each one gather or one compare-exchange of a sorting
network (22 us a window on this machine); here each tile of up to ``TILE`` windows is
copied windows-last into a small buffer and every step runs on it while it sits in cache,
one SIMD lane per window (8.5 us). The lane loops run to a count known only at run time on
purpose: LLVM then vectorises them with a run-time overlap check, while a constant count
unrolls them into scalar code (it cannot prove two rows of one buffer apart).

The arithmetic is numpy's, step for step, in float32 (the same lerp ``a + (b - a) *
frac``, the same exact min/max networks, the mean of the two middle values as ``(a + b) *
0.5``), except the logs: the kernel returns, per family and candidate, the product over
both harmonics of ``max(peak / floor, 1) * sqrt(max(sidebands / floor, 1))`` in float64,
and the caller takes one vectorised log of it (scalar ``logf`` calls in here, one per
harmonic and sideband, cost more than the rest of the line evidence).

``nogil=True``: the front end's worker threads run it side by side. ``cache=True``: the
compiled code is written to ``__pycache__`` beside the module (numba does this even under
``PYTHONDONTWRITEBYTECODE``; a read-only install falls back to the user's cache directory),
so only the first process pays the compile.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Windows per tile: the lane loops' overheads (the overlap checks) amortised; a partial
#: tile (a recording's last windows in a block) runs only its own lanes.
TILE = 128

_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TINY = np.float32(1e-20)


@njit(cache=True, nogil=True, inline="always")
def _network(w, net, nt):
    """Sort enough of the rows of ``w [n, >= nt]`` (clobbered) that its middle row(s) hold
    the median, by the selection network ``net [k, 4]`` (``i, j, min_needed, max_needed``)."""
    for k in range(net.shape[0]):
        i, j = net[k, 0], net[k, 1]
        if net[k, 2] and net[k, 3]:
            for t in range(nt):
                a, b = w[i, t], w[j, t]
                w[i, t] = a if a < b else b  # np.minimum / np.maximum: exact
                w[j, t] = b if a < b else a
        elif net[k, 2]:
            for t in range(nt):
                a, b = w[i, t], w[j, t]
                w[i, t] = a if a < b else b
        else:
            for t in range(nt):
                a, b = w[i, t], w[j, t]
                w[j, t] = b if a < b else a


@njit(cache=True, nogil=True, inline="always")
def _read(T, i0, fr, out, D, r, nt):
    """Row ``r`` of ``D`` = lerp of the windows-last tile ``T [rows, TILE]`` at one
    position (numpy's ``a + (b - a) * frac``; past the end: 0)."""
    if out:
        for t in range(nt):
            D[r, t] = 0.0
    else:
        for t in range(nt):
            a = T[i0, t]
            D[r, t] = a + (T[i0 + 1, t] - a) * fr


@njit(cache=True, nogil=True, inline="always")
def _max_rows(V, rows, a, b, D, r, nt):
    """Row ``r`` of ``D`` = max over ``V``'s rows ``rows[a:b]``."""
    i = rows[a]
    for t in range(nt):
        D[r, t] = V[i, t]
    for j in range(a + 1, b):
        i = rows[j]
        for t in range(nt):
            v = V[i, t]
            D[r, t] = D[r, t] if v < D[r, t] else v


@njit(cache=True, nogil=True, inline="always")
def _median(w, n, D, r, nt):
    """Row ``r`` of ``D`` = the median of the rows of ``w [n, TILE]`` after :func:`_network`
    (``(a + b) * 0.5`` of the middle two of an even count, as numpy)."""
    lo, hi = (n - 1) // 2, n // 2
    for t in range(nt):
        D[r, t] = (w[lo, t] + w[hi, t]) * _HALF if lo != hi else w[lo, t]


@njit(cache=True, nogil=True)
def contrast_evidence(
    S,
    A,
    li0,
    lfr,
    lout,
    far,
    near,
    side,
    net16,
    pi0,
    pfr,
    pout,
    n_peak,
    net8,
    F,
    line_ev,
    period_ev,
):
    """Line evidence ``line_ev [m, F, P - F + 1]`` and period evidence ``period_ev [m, P]``
    of windows ``S [m, bins]`` (spectra) and ``A [m, lags]`` (autocorrelations).

    Line reads ``li0, lfr, lout [2, P, R]`` (left bin, weight, past the end) per harmonic,
    candidate and offset; ``far`` / ``near`` the offsets of the floor / peak; ``side [F, 2,
    K]`` each family's count then rows of its low and high sideband offsets (count -1:
    none). Period reads ``pi0, pfr, pout [P, M, Q]``: the first ``n_peak`` of the ``Q`` lags
    are the peak's, the rest the floor's. ``net16`` / ``net8``: selection networks of the
    floors' medians."""
    m, P = S.shape[0], li0.shape[1]
    nb, nl = S.shape[1], A.shape[1]
    ST = np.empty((nb, TILE), np.float32)
    AT = np.empty((nl, TILE), np.float32)
    V = np.empty((max(li0.shape[2], pi0.shape[2]), TILE), np.float32)
    W = np.empty((max(far.shape[0], pi0.shape[2]), TILE), np.float32)
    D = np.empty((4, TILE), np.float32)  # scratch rows: floor, peak, sidebands
    e = np.empty((F, P - F + 1, TILE), np.float64)
    pe = np.empty((P, TILE), np.float32)
    for w0 in range(0, m, TILE):
        nw = min(TILE, m - w0)
        _transpose(S, w0, nw, ST)  # the tile, windows last (lanes past nw: not computed)
        _transpose(A, w0, nw, AT)
        _line_tile(ST, li0, lfr, lout, far, near, side, net16, F, V, W, D, e, nw)
        for t in range(nw):
            for f in range(F):
                for d in range(P - F + 1):
                    line_ev[w0 + t, f, d] = e[f, d, t]
        _period_tile(AT, pi0, pfr, pout, n_peak, net8, V, W, D, pe, nw)
        for t in range(nw):
            for c in range(P):
                period_ev[w0 + t, c] = pe[c, t]


@njit(cache=True, nogil=True, inline="always")
def _transpose(S, w0, nw, ST):
    """``ST[:, :nw] = S[w0 : w0 + nw].T``, 16 rows of ``ST`` at a time: the rows written
    and the source lines read stay in L1 (one pass of single writes a whole tile row apart
    cost ~2 us a window)."""
    nb = S.shape[1]
    for b0 in range(0, nb, 16):
        b1 = min(nb, b0 + 16)
        for t in range(nw):
            for b in range(b0, b1):
                ST[b, t] = S[w0 + t, b]


@njit(cache=True, nogil=True)
def _line_tile(ST, li0, lfr, lout, far, near, side, net16, F, V, W, D, e, nt):
    """One tile's line evidence into ``e [F, 1 + D, TILE]`` (see :func:`contrast_evidence`)
    as the product, over the two harmonics, of ``max(peak / floor, 1)`` times the square
    root of ``max(sidebands / floor, 1)``: half its log is the evidence. One log per
    family and candidate, taken by numpy afterwards (SIMD; a scalar ``logf`` per read in
    here cost more than the rest of the line evidence), in float64 (no overflow)."""
    P, R, nf = li0.shape[1], li0.shape[2], far.shape[0]
    e[:, :, :nt] = 1.0
    for h in range(2):
        for c in range(P):
            for r in range(R):
                _read(ST, li0[h, c, r], lfr[h, c, r], lout[h, c, r], V, r, nt)
            for j in range(nf):
                for t in range(nt):
                    W[j, t] = V[far[j], t]
            _network(W, net16, nt)
            _median(W, nf, D, 0, nt)
            _max_rows(V, near, 0, near.shape[0], D, 1, nt)
            for t in range(nt):
                fl = D[0, t] if D[0, t] > _TINY else _TINY
                D[0, t] = fl
                ratio = D[1, t] / fl
                D[1, t] = ratio if ratio > _ONE else _ONE
            for f in range(F):
                if c < F and c != f:
                    continue
                d = c - F + 1 if c >= F else 0  # family f's true line, then the decoys
                if side[f, 0, 0] < 0:
                    for t in range(nt):
                        e[f, d, t] *= np.float64(D[1, t])
                    continue
                _max_rows(V, side[f, 0], 1, 1 + side[f, 0, 0], D, 2, nt)
                _max_rows(V, side[f, 1], 1, 1 + side[f, 1, 0], D, 3, nt)
                for t in range(nt):
                    s = _HALF * (D[2, t] + D[3, t]) / D[0, t]
                    s64 = np.float64(s if s > _ONE else _ONE)
                    e[f, d, t] *= np.float64(D[1, t]) * np.sqrt(s64)


@njit(cache=True, nogil=True)
def _period_tile(AT, pi0, pfr, pout, n_peak, net8, V, W, D, pe, nt):
    """One tile's period evidence into ``pe [P, TILE]``: per candidate, the mean over the
    multiples of the peak (max of the first ``n_peak`` reads) less the floor (median of
    the rest)."""
    P, M, Q = pi0.shape[0], pi0.shape[1], pi0.shape[2]
    nq = Q - n_peak
    for c in range(P):
        for t in range(nt):
            pe[c, t] = 0.0
        for k in range(M):
            for q in range(Q):
                _read(AT, pi0[c, k, q], pfr[c, k, q], pout[c, k, q], V, q, nt)
            for q in range(nq):
                for t in range(nt):
                    W[q, t] = V[n_peak + q, t]
            _network(W, net8, nt)
            _median(W, nq, D, 0, nt)
            for t in range(nt):
                p = V[0, t]
                for q in range(1, n_peak):
                    p = p if V[q, t] < p else V[q, t]
                pe[c, t] += p - D[0, t]
        for t in range(nt):
            pe[c, t] /= np.float32(M)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def central_moments(X, m2, m4):
    """``m2[i]``, ``m4[i]``: the 2nd and 4th central moments of each row of ``X [n, L]``,
    accumulated in float64 (``reassoc``: the sums vectorise; no NaN / inf assumptions)."""
    n, L = X.shape
    for i in range(n):
        s = 0.0
        for k in range(L):
            s += np.float64(X[i, k])
        mu = s / L
        a2 = 0.0
        a4 = 0.0
        for k in range(L):
            d = np.float64(X[i, k]) - mu
            d2 = d * d
            a2 += d2
            a4 += d2 * d2
        m2[i] = a2 / L
        m4[i] = a4 / L
