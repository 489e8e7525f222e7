"""Synthetic bearing generator: speed, envelope-line accuracy, SNR, and a steel-plates load.

Run: ``PYTHONPATH=src python benchmarks/synthetic_demo.py [--duration 10] [--seed 0]``.
Prints figures only (no pass/fail); timings on a shared CPU are pessimistic.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import signal as sps

from faultlab.data import synthetic as syn
from faultlab.data.paths import data_dir
from faultlab.data.tabular import Standardiser, load_table


def envelope_peak(x: np.ndarray, fs: float) -> float:
    sos = sps.butter(4, [2500, 4500], btype="bandpass", fs=fs, output="sos")
    env = np.abs(sps.hilbert(sps.sosfiltfilt(sos, x.astype(np.float64))))
    env -= env.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    freqs = np.fft.rfftfreq(len(env), 1 / fs)
    band = (freqs > 5) & (freqs < 1000)
    return float(freqs[band][np.argmax(spec[band])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cfg = syn.SyntheticConfig(duration_s=args.duration, seed=args.seed)
    t0 = time.perf_counter()
    recs = syn.generate(cfg)
    dt = time.perf_counter() - t0
    n = sum(r.n_samples for r in recs)
    print(
        f"generated {len(recs)} recordings x {args.duration:g} s in {dt:.2f} s "
        f"({n / dt / 1e6:.1f} M samples/s)"
    )

    errors, snrs = [], []
    for cond, rec in zip(syn.conditions(cfg), recs, strict=True):
        parts = syn.simulate(cfg, cond)
        noise = rec.signal[0].astype(np.float64) - parts.clean
        snrs.append(10 * np.log10(np.mean(parts.clean**2) / np.mean(noise**2)))
        if cond.location is None:
            continue
        f_exp = syn.impact_frequency(cond.location, cond.rpm, cfg.bearing)
        errors.append(abs(envelope_peak(rec.signal[0], cfg.sampling_rate) - f_exp) / f_exp)
    errors_pct = 100 * np.asarray(errors)
    print(
        f"envelope peak vs BPFO/BPFI/2xBSF: max error {errors_pct.max():.2f} %, "
        f"{(errors_pct <= 2).mean():.0%} of {len(errors)} faulty recordings within 2 %"
    )
    print(f"SNR requested {cfg.snr_db:g} dB: measured {np.min(snrs):.2f} .. {np.max(snrs):.2f} dB")

    steel = data_dir() / "steel-plates" / "steel_plates_faults.csv"
    if steel.exists():
        t0 = time.perf_counter()
        ws = load_table(steel)
        dt = time.perf_counter() - t0
        print(
            f"steel plates: {ws.X.shape} in {dt * 1e3:.0f} ms; classes {ws.class_counts('label')}"
        )
        z = Standardiser().fit(ws.subset(np.arange(0, len(ws), 2))).transform(ws)
        print(
            f"standardised (fit on even rows): |mean| odd rows max {np.abs(z.X[1::2].mean(0)).max():.3f}"
        )
    else:
        print(f"steel plates CSV not found under {steel.parent} (set FAULTLAB_DATA_DIR)")


if __name__ == "__main__":
    main()
