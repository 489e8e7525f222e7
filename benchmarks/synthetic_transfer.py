"""Train on one bearing, speed and sampling rate; test on another (synthetic generator).

    PYTHONPATH=src .venv/bin/python benchmarks/synthetic_transfer.py [--seconds 4] [--seeds 0 1 2]
        [--only gated,raw]   # cases whose name contains any of these

Train: bearing 6205 (9 balls), CWRU speeds 1730-1797 rpm, 12 kHz, 1024-sample windows.
Test: bearing 6203 (8 balls, other defect orders), speeds 20 % above / below, 48 kHz,
4096-sample windows (the same 85 ms). Prints fault-location accuracy of:
- rf / cnn1d on the order-domain envelope front end (defect axis) and ``envelope`` (no
  training), fed the test recordings as they are (48 kHz, 4096 samples); cnn1d on the plain
  order axis too (speed and rate normalised, bearing not: its lines sit elsewhere);
- rf / cnn1d on the raw windows without the front end, the test resampled to 12 kHz and cut
  into 1024-sample windows so the input shape even fits (what a user would have to do).

Measured 2026-12-01 (4 s per recording, seeds 0, 1, 2, one thread; 2 min 15 s - 2 min 45 s
a seed on the shared 2-core machine), mean (min) location accuracy on the other rig:
  1.000 (1.000)  rf + order_envelope front end
  0.985 (0.980)  cnn1d + order_envelope front end
  0.445 (0.304)  cnn1d + front end on the plain order axis (bearing not normalised)
  1.000 (1.000)  envelope expert, no training
  1.000 (1.000)  envelope-contrast
  1.000 (1.000)  linenet-contrast
  1.000 (1.000)  envelope-gated (evidence x kurtosis; `--only gated`, 1 min 57 s for 3 seeds)
  1.000 (1.000)  linenet-contrast-gated
  0.411 (0.380)  rf on raw windows, test resampled to 12 kHz
  0.650 (0.607)  cnn1d on raw windows, test resampled to 12 kHz
"""

from __future__ import annotations

import argparse

import numpy as np

from faultlab.data.labels import LOCATION_ORDER
from faultlab.data.resample import resample
from faultlab.data.synthetic import SyntheticConfig, generate
from faultlab.data.windowing import make_windows
from faultlab.features.window_frontend import WindowFrontend
from faultlab.models.base import build_model, get_spec
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

TRAIN_RPM = {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1730.0}
SHIFT = {0: 1.2, 1: 0.8, 2: 1.2, 3: 0.8}  # +-20 % speed on the test rig
#: linenet-contrast of configs/cwru-held-out-size.yaml
LINENET_CONTRAST = {
    "frontend": {"kind": "order_envelope", "contrast": True, "harmonics": 1, "half_width": 0.0},
    "blocks": ["contrast"],
    "ball_detector": "own",
    "hidden": [32, 16],
}


def location_windows(recs, window):
    ws = make_windows(recs, window)
    keep = np.flatnonzero(ws.y["location"] >= 0)
    ws = ws.subset(keep).select_tasks(["location"])
    return ws


def domains(seconds: float, seed: int):
    """(train WindowSet, test WindowSet at 48 kHz, test WindowSet resampled to 12 kHz)."""
    common = dict(duration_s=seconds, normal=False, seed=seed)
    train = generate(
        SyntheticConfig(bearing="6205", sampling_rate=12000.0, rpm=TRAIN_RPM, **common)
    )
    test = generate(
        SyntheticConfig(
            bearing="6203",
            sampling_rate=48000.0,
            resonance_hz=5200.0,
            rpm={k: v * SHIFT[k] for k, v in TRAIN_RPM.items()},
            **{**common, "seed": seed + 100},
        )
    )
    return (
        location_windows(train, 1024),
        location_windows(test, 4096),
        location_windows([resample(r, 12000.0) for r in test], 1024),
    )


def accuracy(model_name, params, train, test, seed, frontend=None):
    """Location accuracy on ``test`` of ``model_name`` trained on ``train``; the front end is
    ``frontend`` if given, else the one the model's params declare (as the runner does)."""
    own, model_params = get_spec(model_name).cls.window_frontend(params)
    frontend = frontend if frontend is not None else own
    if frontend is not None:
        train, test = frontend.apply(train), frontend.apply(test)
    model = build_model(
        model_name,
        {"location": list(LOCATION_ORDER)},
        (train.n_channels, train.window_length),
        model_params,
        TrainConfig(seed=seed, epochs=15, progress=False, num_threads=2),
    )
    fit_model(model, train, None)
    pred = model.predict_proba(test.X)["location"].argmax(1)
    return float((pred == test.y["location"]).mean())


def cases() -> dict[str, tuple]:
    """Name -> (model, params, test domain, front end or None)."""
    fe = {"kind": "order_envelope", "axis": "defect"}
    order_axis = {"kind": "order_envelope", "axis": "order"}
    return {
        "rf + order_envelope front end (test as is: 6203, 48 kHz, 4096)": (
            "rf", {"n_estimators": 200}, 48, fe
        ),
        "cnn1d + order_envelope front end (test as is)": ("cnn1d", {}, 48, fe),
        "cnn1d + front end on the plain order axis (bearing not normalised)": (
            "cnn1d", {}, 48, order_axis
        ),
        "envelope expert, no training (test as is)": (
            "envelope", {"calibrate": "none"}, 48, None
        ),
        "envelope-contrast, decoy z-scores, 7 numbers (test as is)": (
            "envelope-contrast", {}, 48, None
        ),
        "envelope-gated, decoy z-scores x kurtosis, 6 numbers (test as is)": (
            "envelope-contrast", {"evidence": "gated"}, 48, None
        ),
        "linenet-contrast, deep (test as is)": ("linenet", LINENET_CONTRAST, 48, None),
        "linenet-contrast-gated, deep (test as is)": (
            "linenet", {**LINENET_CONTRAST, "kurtosis_gate": True}, 48, None
        ),
        "rf on raw windows, time+spectral features (test resampled to 12 kHz)": (
            "rf", {"n_estimators": 200}, 12, None
        ),
        "cnn1d on raw windows (test resampled to 12 kHz)": ("cnn1d", {}, 12, None),
    }  # fmt: skip


def run(seconds: float, seed: int, only: list[str] | None = None) -> dict[str, float]:
    train, test48, test12 = domains(seconds, seed)
    out = {}
    for name, (model, params, rate, fe) in cases().items():
        if only and not any(o in name for o in only):
            continue
        test = test48 if rate == 48 else test12
        front = WindowFrontend(fe) if fe else None
        out[name] = accuracy(model, params, train, test, seed, front)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per recording")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--only", help="comma-separated parts of the case names to run")
    args = ap.parse_args()
    only = args.only.split(",") if args.only else None
    results = [run(args.seconds, s, only) for s in args.seeds]
    print(
        f"fault location accuracy, train 6205 @ 12 kHz -> test 6203 @ 48 kHz, +-20 % speed "
        f"({args.seconds:g} s per recording, seeds {args.seeds})"
    )
    for name in results[0]:
        vals = [r[name] for r in results]
        print(f"  {np.mean(vals):6.3f}  (min {np.min(vals):.3f})  {name}")


if __name__ == "__main__":
    main()
