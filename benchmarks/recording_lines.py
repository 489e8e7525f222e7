"""Whole-file defect lines of CWRU recordings on every accelerometer: what an analyst sees.

A training-free check, not product code: for each file and channel, the squared envelope
spectrum of the whole recording (band-passed 2-5.5 kHz, Hann taper) on an order axis from
the file's rpm; for BPFO, BPFI and 2xBSF of the drive-end bearing (SKF 6205, where every
fault of the 12 kHz drive-end files is) how far the first line stands above its floor (log of
the highest bin within +-2 % over the median 15 % around it), the windows' mean kurtosis
(1024 samples, Fisher: 0 for Gaussian noise), the mean log(kurtosis / 3) of the same windows
band-passed 2-5.5 kHz (what the gated models' gate would read if it read the band), and the
six strongest envelope lines between 0.5 and 12 orders. Used for the README's account of the 0.014 in outer race (files 197-200)
against the 0.007 / 0.021 in ones (130, 234).

    FAULTLAB_DATA_DIR=../shared/data PYTHONPATH=src python benchmarks/recording_lines.py \
        --files 130,197,198,199,200,234 --channels DE,FE,BA
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import signal as ss
from scipy import stats

from faultlab.data.datasets.cwru import read_cwru
from faultlab.signals.geometry import defect_orders

BAND_HZ = (2000.0, 5500.0)
FAMILIES = {"BPFO": ("BPFO", 1.0), "BPFI": ("BPFI", 1.0), "2xBSF": ("BSF", 2.0)}


def band(x: np.ndarray, fs: float) -> np.ndarray:
    sos = ss.butter(4, [BAND_HZ[0], BAND_HZ[1]], "bandpass", fs=fs, output="sos")
    return ss.sosfiltfilt(sos, x - x.mean())


def windows(x: np.ndarray, n: int = 1024) -> np.ndarray:
    return x[: x.size // n * n].reshape(-1, n)


def envelope_orders(xb: np.ndarray, fs: float, shaft_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(orders, |squared envelope spectrum|)`` of one whole band-passed signal ``xb``."""
    env = np.abs(ss.hilbert(xb)) ** 2
    env -= env.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(env.size)))
    return np.fft.rfftfreq(env.size, 1.0 / fs) / shaft_hz, spec


def line_height(orders: np.ndarray, spec: np.ndarray, at: float) -> float:
    """log(peak within +-2 % of ``at`` / median of the +-15 % around it, peak excluded)."""
    near = np.abs(orders / at - 1.0) <= 0.02
    ring = (np.abs(orders / at - 1.0) <= 0.15) & ~near
    return float(np.log(spec[near].max() / np.median(spec[ring])))


def strongest(orders: np.ndarray, spec: np.ndarray, k: int = 6) -> list[float]:
    keep = (orders > 0.5) & (orders < 12.0)
    o, s = orders[keep], spec[keep]
    peaks, _ = ss.find_peaks(s, distance=20)
    return [round(float(v), 2) for v in o[peaks[np.argsort(s[peaks])[::-1][:k]]]]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--files", default="130,197,198,199,200,234")
    ap.add_argument("--channels", default="DE,FE,BA")
    args = ap.parse_args()
    orders = defect_orders("6205")
    fams = {name: orders[f] * m for name, (f, m) in FAMILIES.items()}
    head = ["file", "fault", "channel", "kurtosis", "band log kurt.", *fams, "strongest lines"]
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for f in args.files.split(","):
        rec = read_cwru(int(f), channels=args.channels.split(","))
        fs, shaft = float(rec.sampling_rate), float(rec.meta["rpm"]) / 60.0
        what = f"{rec.meta['fault_location']} {rec.meta['fault_diameter_in']}"
        for ch, x in zip(args.channels.split(","), rec.signal.astype(np.float64)):
            kurt = float(stats.kurtosis(windows(x), axis=1).mean())
            xb = band(x, fs)  # read once: the band's kurtosis and its envelope
            bk = np.log(stats.kurtosis(windows(xb), axis=1, fisher=False) / 3).mean()
            o, s = envelope_orders(xb, fs, shaft)
            cells = [f"{line_height(o, s, at):.1f}" for at in fams.values()]
            row = [f, what, ch, f"{kurt:.2f}", f"{bk:.2f}", *cells, str(strongest(o, s))]
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
