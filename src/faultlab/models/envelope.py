"""``envelope``: the vibration analyst's rule, as a registered model.

A local defect strikes at BPFO (outer race), BPFI (inner race, amplitude-modulated at shaft
rate, hence sidebands at +-1 order) or 2 x BSF (a ball spot hits both races; modulated by
the cage, hence sidebands at +-FTF). In the squared envelope spectrum each shows as a family
of harmonics standing above the local noise floor. The model reads those families from the
order-domain envelope front end on the **defect axis** (a window of orders around k x each
defect order, see :mod:`faultlab.features.order_envelope`), scores each fault location by
how far its lines stand above the floor (log ratio, harmonics averaged, sidebands added at
half weight), and turns the scores into probabilities with a softmax. Nothing is learned
beyond an optional calibration on the TRAINING windows: one temperature and one offset per
class (the offset of ``normal`` is the detection threshold). Every verdict carries its
evidence (:meth:`EnvelopeModel.explain`): which lines, how many times the floor, which band.

Tasks: ``location`` (IR / B / OR), ``detection`` (normal / fault) and the flat ``class``
(the location's probability is shared equally by its sizes: lines do not tell size).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from faultlab.data.types import NOT_APPLICABLE, WindowSet
from faultlab.errors import ConfigError, DataError
from faultlab.features.order_envelope import OrderEnvelopeConfig
from faultlab.features.periodicity import fault_families
from faultlab.models.base import (
    FitResult,
    JsonStateModel,
    ModelParams,
    ModelSummary,
    register_model,
)

WEIGHTS_FILE = "envelope.json"

#: The default front end: defect axis, linear "times the floor" values.
DEFAULT_FRONTEND = {
    "kind": "order_envelope",
    "axis": "defect",
    "band": "cpw",
    "harmonics": 4,
    "half_width": 1.2,
    "step": 0.1,
    "scale": "linear",
    # the squared envelope's autocorrelation at 1..3 x each impact period (whole band):
    # separates BPFO / 2xBSF / BPFI where a 1024-sample spectrum blurs them
    "periodicity": 3,
    "periodicity_band": "none",
}

#: Fault location -> (defect family, harmonics read, sideband offset in orders or None).
#: Ball spots strike at 2 x BSF: even BSF harmonics; FTF sidebands sit near +-0.4 order.
#: The first two impact-rate harmonics: with 1024-sample windows (0.4-order resolution) the
#: higher ones sit in a noisier floor and add more noise than evidence (chosen on CWRU
#: 0.007/0.014 in windows, scoring without any fitting).
LOCATIONS: dict[str, tuple[str, tuple[int, ...], float | None]] = {
    "IR": ("BPFI", (1, 2), 1.0),
    "B": ("BSF", (2, 4), 0.4),
    "OR": ("BPFO", (1, 2), None),
}


def location_of(class_name: str) -> str | None:
    """``IR``/``B``/``OR`` for a class name (``IR``, ``IR_0.007``, ``OR@6``), None for normal."""
    name = str(class_name)
    for loc in ("IR", "OR", "B"):
        if name == loc or name.startswith(loc + "_") or name.startswith(loc + "@"):
            return loc
    if name in ("fault",):
        return "fault"
    if name == "normal":
        return None
    raise ConfigError(f"envelope: class {name!r} is not a fault location (IR, B, OR) or normal")


def defect_frontend(fe: OrderEnvelopeConfig, all_families: bool = True) -> OrderEnvelopeConfig:
    """``fe`` if it is on the defect axis (with all three families): what line readers need."""
    if fe.axis != "defect":
        raise ValueError("its front end must use axis: defect")
    missing = [f for f in ("BPFI", "BPFO", "BSF") if f not in fe.families]
    if missing and all_families:
        raise ValueError(f"front end families lack {missing}")
    return fe


class EnvelopeParams(ModelParams):
    frontend: OrderEnvelopeConfig = Field(
        default_factory=lambda: OrderEnvelopeConfig.model_validate(DEFAULT_FRONTEND),
        description="the order-envelope front end (defect axis) whose layout the model reads",
    )
    tolerance: float = Field(
        default=0.1, gt=0, description="orders around a line's expected position (speed/slip)"
    )
    floor_from: float = Field(
        default=0.5, gt=0, description="offsets beyond this many orders make a line's floor"
    )
    sideband_weight: float = Field(default=0.5, ge=0, description="weight of the sidebands")
    periodicity_weight: float = Field(
        default=4.0,
        ge=0,
        description="weight of the defect-period evidence (autocorrelation, in [-1, 1]) "
        "against the lines' log ratio; 0 ignores it",
    )
    calibrate: Literal["bias+temperature", "temperature", "none"] = Field(
        default="temperature",
        description="on the training windows: a temperature (verdicts stay the rule's), also "
        "per-class offsets, or nothing",
    )

    @model_validator(mode="after")
    def _defect_axis(self) -> EnvelopeParams:
        defect_frontend(self.frontend)
        return self


@register_model(
    "envelope",
    "Envelope-analysis expert: BPFO/BPFI/BSF line families above the floor (no training)",
    "physics",
    EnvelopeParams,
)
class EnvelopeModel(JsonStateModel[EnvelopeParams]):
    family = "physics"
    weights_file = WEIGHTS_FILE
    weights_what = "envelope calibration"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fe: OrderEnvelopeConfig = self.params.frontend
        self.maps = {t: [location_of(c) for c in cs] for t, cs in self.classes.items()}
        self.temperature = 1.0
        self.bias = {t: [0.0] * len(cs) for t, cs in self.classes.items()}
        for t in self.classes:  # normal's default threshold: a line 2x the floor
            self.bias[t] = [float(np.log(2.0)) if m is None else 0.0 for m in self.maps[t]]

    # -- evidence ---------------------------------------------------------------------------
    def _grid(self, X: np.ndarray) -> np.ndarray:
        """``[n, C, F, H, O]`` times-the-floor values of the defect axis."""
        F, H, n_off = len(self.fe.families), self.fe.harmonics, len(self.fe.offsets)
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[-1] != self.fe.n_outputs:
            raise DataError(
                f"envelope: windows of shape {X.shape[1:]}; its front end gives "
                f"[C, {self.fe.n_outputs}] (is the order_envelope front end applied?)"
            )
        X = X[..., : F * H * n_off]
        V = np.expm1(X) if self.fe.scale == "log" else X
        return V.reshape(len(X), X.shape[1], F, H, n_off)

    def periodicity(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Location -> ``[n, C]`` autocorrelation peak at its impact period(s) minus the
        median of the lags 5-12 % away, averaged over the multiples (empty when off)."""
        M = self.fe.periodicity
        fams = fault_families(self.fe.families)
        if not M:
            return {}
        offs = self.fe.lag_offsets
        A = np.asarray(X, np.float32)[..., len(self.fe.spectrum_names()) :]
        A = A.reshape(len(A), A.shape[1], len(fams), M, len(offs))
        peak = A[..., np.abs(offs) <= 0.02 + 1e-9].max(-1)
        floor = np.median(A[..., np.abs(offs) >= 0.05 - 1e-9], axis=-1)
        ev = (peak - floor).mean(-1)  # [n, C, F]
        return {loc: ev[:, :, fams.index(f)] for loc, (f, _, _) in LOCATIONS.items() if f in fams}

    def lines(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per window and channel: each family harmonic's peak / local floor, and sidebands.

        ``peak [n, C, F, H]``, ``sb_shaft`` / ``sb_ftf`` (mean of the two sidebands).
        """
        V = self._grid(X)
        offs = self.fe.offsets
        tol = self.params.tolerance
        floor = np.median(V[..., np.abs(offs) >= self.params.floor_from], axis=-1)
        floor = np.maximum(floor, 1e-6)

        def at(d: float) -> np.ndarray:
            sel = np.abs(offs - d) <= tol + 1e-9
            return V[..., sel].max(-1) / floor if sel.any() else np.zeros_like(floor)

        return {
            "peak": at(0.0),
            "sb_shaft": 0.5 * (at(-1.0) + at(1.0)),
            "sb_ftf": 0.5 * (at(-0.4) + at(0.4)),
        }

    def scores(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Location -> ``[n]`` log line strength (channels averaged), plus ``fault`` (max)."""
        ln = self.lines(X)
        fam = {f: i for i, f in enumerate(self.fe.families)}
        w = self.params.sideband_weight
        wp = self.params.periodicity_weight
        per = self.periodicity(X) if wp else {}
        out = {}
        for loc, (f, harmonics, sb) in LOCATIONS.items():
            h = [k - 1 for k in harmonics if k <= self.fe.harmonics] or [0]
            s = np.log(np.maximum(ln["peak"][:, :, fam[f], h], 1.0)).mean(-1)
            if sb is not None:
                side = ln["sb_shaft"] if sb == 1.0 else ln["sb_ftf"]
                s = s + w * np.log(np.maximum(side[:, :, fam[f], h], 1.0)).mean(-1)
            if loc in per:
                s = s + wp * per[loc]
            out[loc] = s.mean(axis=1)
        out["fault"] = np.max(np.stack([out[k] for k in LOCATIONS]), axis=0)
        return out

    def _logits(self, S: dict[str, np.ndarray], task: str) -> np.ndarray:
        cols = []
        for m in self.maps[task]:
            cols.append(np.zeros_like(S["fault"]) if m is None else S[m])
        raw = np.stack(cols, axis=1)
        # classes sharing a location (sizes) share its probability equally
        counts = np.array([self.maps[task].count(m) for m in self.maps[task]], dtype=float)
        return raw / self.temperature + np.asarray(self.bias[task]) - np.log(counts)

    # -- contract -------------------------------------------------------------------------------
    def fit(
        self, train: WindowSet, val: WindowSet | None = None, run_dir: Path | None = None
    ) -> FitResult:
        t0 = time.perf_counter()
        S = self.scores(train.X)
        notes = []
        mode = self.params.calibrate
        if mode != "none":
            for task in self.tasks:
                y = train.y.get(task)
                if y is None:
                    raise DataError(f"training windows have no labels for task {task!r}")
                self._calibrate(
                    S,
                    task,
                    y[y != NOT_APPLICABLE],
                    y != NOT_APPLICABLE,
                    with_bias=mode == "bias+temperature",
                )
            notes.append(f"calibrated on the training windows only ({mode})")
        row = {"epoch": 1.0, **self._score_row("train", S, train)}
        if val is not None and len(val):
            row.update(self._score_row("val", self.scores(val.X), val))
        return FitResult(
            history=[row],
            epochs=1,
            best_epoch=1,
            train_seconds=time.perf_counter() - t0,
            notes=notes,
        )

    def _calibrate(self, S, task, y, mask, with_bias: bool) -> None:
        k = len(self.classes[task])
        Sm = {a: v[mask] for a, v in S.items()}
        present = np.bincount(y, minlength=k) > 0

        def nll(theta: np.ndarray) -> float:
            self.temperature = float(np.exp(theta[0]))
            if with_bias:
                b = np.where(present, theta[1:], -30.0)
                self.bias[task] = list(b)
            lp = log_softmax(self._logits(Sm, task), axis=1)
            return float(-lp[np.arange(len(y)), y].mean()) + 1e-3 * float(np.sum(theta[1:] ** 2))

        x0 = np.concatenate([[0.0], self.bias[task]]) if with_bias else np.array([0.0])
        res = minimize(nll, x0, method="L-BFGS-B")
        nll(res.x)

    def _score_row(self, role: str, S, ws: WindowSet) -> dict[str, float]:
        accs = []
        for task in self.tasks:
            y = ws.y.get(task)
            if y is None or not (y != NOT_APPLICABLE).any():
                continue
            m = y != NOT_APPLICABLE
            accs.append(float((self._logits(S, task)[m].argmax(1) == y[m]).mean()))
        return {f"{role}_accuracy": float(np.mean(accs))} if accs else {}

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        S = self.scores(X)
        return {t: softmax(self._logits(S, t), axis=1).astype(np.float32) for t in self.tasks}

    def explain(self, X: np.ndarray, top: int = 6) -> dict[str, Any]:
        """Evidence for windows ``X`` (one recording): mean line strengths and the verdict.

        ``lines``: every family harmonic (and sideband) read, as times above its local
        floor averaged over the windows and channels, strongest first; ``periods``: the
        envelope autocorrelation at each family's impact period above its neighbours;
        ``scores``: the log strength per location; ``band``: the demodulation band the front
        end used.
        """
        ln = self.lines(X)
        S = self.scores(X)
        proba = self.predict_proba(X)
        rows = []
        fam = {f: i for i, f in enumerate(self.fe.families)}
        for loc, (f, harmonics, sb) in LOCATIONS.items():  # the lines the verdict weighs
            for h in (k for k in harmonics if k <= self.fe.harmonics):
                peak = ln["peak"][:, :, fam[f], h - 1]
                rows.append(
                    {"line": f"{h}x{f}", "location": loc, "times_floor": float(peak.mean())}
                )
                if sb is not None:
                    side = ln["sb_shaft" if sb == 1.0 else "sb_ftf"][:, :, fam[f], h - 1]
                    rows.append(
                        {
                            "line": f"{h}x{f} {'+-1x shaft' if sb == 1.0 else '+-FTF'}",
                            "location": loc,
                            "times_floor": float(side.mean()),
                        }
                    )
        rows.sort(key=lambda r: -r["times_floor"])
        periods = [  # the autocorrelation at each family's impact period, above its neighbours
            {
                "period": f"{'2x' if LOCATIONS[loc][0] == 'BSF' else ''}{LOCATIONS[loc][0]}",
                "location": loc,
                "acf_above_neighbours": float(ev.mean()),
            }
            for loc, ev in self.periodicity(X).items()
        ]
        periods.sort(key=lambda r: -r["acf_above_neighbours"])
        band = (
            self.fe.band
            if isinstance(self.fe.band, str)
            else f"{self.fe.band[0]:g}-{self.fe.band[1]:g} Hz"
        )
        verdicts = {t: self.classes[t][int(p.mean(0).argmax())] for t, p in proba.items()}
        return {
            "verdict": verdicts,
            "band": {
                "cpw": "whole band, cepstral pre-whitening",
                "kurtogram": "fast-kurtogram band per window",
                "none": "whole band",
            }.get(band, band),
            "scores": {k: float(v.mean()) for k, v in S.items()},
            "lines": rows[:top],
            "periods": periods,
            "n_windows": int(len(X)),
        }

    def describe(self) -> ModelSummary:
        n = 1 + sum(len(b) for b in self.bias.values())
        return ModelSummary(
            name=self.name,
            family=self.family,
            n_params=n,
            trainable_params=n,
            size_bytes=len(json.dumps(self._state())),
            layers=[
                {"name": "lines", "type": "DefectLines", "output_shape": [3], "params": 0},
                {
                    "name": "calibration",
                    "type": "TemperatureBias",
                    "output_shape": [len(c) for c in self.classes.values()],
                    "params": n,
                },
            ],
            text="envelope-analysis rule: BPFO / BPFI (+-shaft) / 2xBSF (+-FTF) lines vs floor",
            extra={"temperature": self.temperature, "bias": self.bias},
        )

    def _state(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "bias": self.bias}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.temperature = float(state["temperature"])
        self.bias = {t: [float(v) for v in b] for t, b in state["bias"].items()}
