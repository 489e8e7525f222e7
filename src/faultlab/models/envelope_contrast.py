"""``envelope-contrast``: race evidence against decoy orders, ball as what is left.

On a bearing it has never seen, the ``envelope`` expert finds inner- and outer-race faults
but sends ball windows to IR or OR: a ball fault's 1024-sample window reads a little above
the floor at every order, so one of the race families wins the argmax by chance. This model
reads the same evidence contrasted against decoy orders of the same window
(:mod:`faultlab.features.defect_contrast`: how far the BPFI / 2xBSF / BPFO line and period
evidence stands out of the window's own decoys, as a robust z-score, plus the window's log
kurtosis) and scores, with weights SHARED by the two races so neither can learn its training
bearing's strength::

    logit(IR) = a_line z_line(BPFI) + a_period z_period(BPFI) + w_k log_kurtosis + c
    logit(OR) = a_line z_line(BPFO) + a_period z_period(BPFO) + w_k log_kurtosis + c
    logit(B)  = b_line z_line(2xBSF) + b_period z_period(2xBSF)
    logit(normal) = its own bias (when a task has it)

``evidence: gated`` reads each family's evidence *times* the window's impulsiveness, with
the same weights for all three families (the ball too)::

    logit(loc) = (a_line + g_line k) z_line(family) + (a_period + g_period k) z_period(family)
                 + c [loc is a race]

A localised defect is an impact train: periodic at its family's rate AND impulsive. Read
additively, kurtosis becomes race-only evidence (the training balls ring no more than noise)
and a ball that does ring (CWRU 0.014 in) is sent to a race; read as a gate, impulsiveness
only strengthens whichever family's period it comes at, and a window where nothing stands
out stays the ball's (through the races' negative bias) with a confidence that grows with
evidence, not with how Gaussian the window is.

Six numbers (seven with ``normal``; gated: five and six) fitted by class-balanced maximum likelihood on the
training windows with an L2 penalty. The penalty is chosen, when ``select_by`` names a
metadata column with two or more values in the training windows (``fault_diameter_in`` on
the held-out-size benchmark), by leave-one-value-out on the TRAINING windows (fit on the
other values, balanced accuracy on the held-out one): validation that mimics an unseen
bearing; with one value and validation windows, on those. Tasks: ``location`` (IR / B / OR),
``class`` (a location's probability shared by its sizes), ``detection`` (fault = any
location vs normal's bias).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp, softmax

from faultlab.data.types import NOT_APPLICABLE, WindowSet
from faultlab.errors import DataError
from faultlab.features.order_envelope import OrderEnvelopeConfig
from faultlab.models.base import (
    FitResult,
    JsonStateModel,
    ModelParams,
    ModelSummary,
    register_model,
)
from faultlab.models.envelope import location_of

WEIGHTS_FILE = "envelope_contrast.json"

#: The smallest front end that carries the contrast block (one line per family, no patches).
DEFAULT_FRONTEND = {
    "kind": "order_envelope",
    "axis": "defect",
    "band": "cpw",
    "harmonics": 1,
    "half_width": 0.0,
    "scale": "linear",
    "periodicity": 0,
    "periodicity_band": "none",
    "contrast": True,
    "contrast_step": 0.05,
}

#: Fault location -> the family whose impact rate it strikes at.
FAMILY = {"IR": "BPFI", "B": "BSF", "OR": "BPFO"}


class EnvelopeContrastParams(ModelParams):
    frontend: OrderEnvelopeConfig = Field(
        default_factory=lambda: OrderEnvelopeConfig.model_validate(DEFAULT_FRONTEND),
        description="the order-envelope front end with contrast: true whose block the model reads",
    )
    l2: float = Field(
        default=1e-3, ge=0, description="the L2 penalty when nothing is there to choose it on"
    )
    l2_grid: list[float] = Field(
        default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1],
        description="penalties tried when select_by (or validation windows) can choose",
    )
    evidence: Literal["additive", "gated"] = Field(
        default="additive",
        description="additive: race lines / periods + kurtosis, the ball its own weights; "
        "gated: every family's line / period times (1, kurtosis), weights shared by all",
    )
    select_by: str | None = Field(
        default=None,
        description="a metadata column whose values are other physical bearings (e.g. "
        "fault_diameter_in): the penalty is chosen by leave-one-value-out on the training "
        "windows; null: no choice",
    )

    @model_validator(mode="after")
    def _contrast_block(self) -> EnvelopeContrastParams:
        if not self.frontend.contrast:
            raise ValueError("its front end needs contrast: true")
        names = self.frontend.names()
        missing = [f for f in FAMILY.values() if f"contrast:line:{f}" not in names]
        if missing:
            raise ValueError(f"front end families lack {missing}")
        return self


@register_model(
    "envelope-contrast",
    "Race lines / periods vs decoy orders (robust z) + kurtosis, ball as the rest (physics)",
    "physics",
    EnvelopeContrastParams,
    variant_of="envelope",
)
class EnvelopeContrastModel(JsonStateModel[EnvelopeContrastParams]):
    family = "physics"
    weights_file = WEIGHTS_FILE
    weights_what = "envelope-contrast weights"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fe: OrderEnvelopeConfig = self.params.frontend
        names = self.fe.names()
        self.cols = {
            "line": [names.index(f"contrast:line:{FAMILY[k]}") for k in ("IR", "B", "OR")],
            "period": [names.index(f"contrast:period:{FAMILY[k]}") for k in ("IR", "B", "OR")],
            "kurtosis": names.index("contrast:log_kurtosis"),
        }
        self.maps = {t: [location_of(c) for c in cs] for t, cs in self.classes.items()}
        self.gated = self.params.evidence == "gated"
        self.theta = {t: self._theta0() for t in self.classes}
        self.l2 = self.params.l2

    def _theta0(self) -> list[float]:
        """additive: a_line, a_period (races), b_line, b_period (ball), w_kurtosis, race bias,
        normal bias; gated: a_line, a_period, g_line, g_period (every family), race bias,
        normal bias."""
        if self.gated:
            return [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
        return [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]

    # -- evidence -------------------------------------------------------------------------------
    def evidence(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``line`` / ``period`` ``[n, 3]`` (IR, B, OR z-scores) and ``kurtosis`` ``[n]``,
        averaged over channels."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[-1] != self.fe.n_outputs:
            raise DataError(
                f"envelope-contrast: windows of shape {X.shape[1:]}; its front end gives "
                f"[C, {self.fe.n_outputs}] (is the order_envelope front end applied?)"
            )
        M = X.mean(axis=1)
        return {
            "line": M[:, self.cols["line"]],
            "period": M[:, self.cols["period"]],
            "kurtosis": M[:, self.cols["kurtosis"]],
        }

    def _design(self, E: dict[str, np.ndarray]) -> dict[str | None, np.ndarray]:
        """Location -> ``[n, len(theta)]``: each location's logit is linear in theta
        (``D @ theta``)."""
        n = len(E["kurtosis"])
        zero, one = np.zeros(n), np.ones(n)
        k = E["kurtosis"]
        line, period = E["line"], E["period"]
        if self.gated:

            def row(i: int, race: np.ndarray) -> np.ndarray:
                return np.stack([line[:, i], period[:, i], k * line[:, i], k * period[:, i],
                                 race, zero], 1)  # fmt: skip

            return {
                "IR": row(0, one),
                "B": row(1, zero),
                "OR": row(2, one),
                None: np.stack([zero] * 5 + [one], 1),  # normal: its bias
            }
        return {
            "IR": np.stack([line[:, 0], period[:, 0], zero, zero, k, one, zero], 1),
            "B": np.stack([zero, zero, line[:, 1], period[:, 1], zero, zero, zero], 1),
            "OR": np.stack([line[:, 2], period[:, 2], zero, zero, k, one, zero], 1),
            None: np.stack([zero] * 6 + [one], 1),  # normal: its bias
        }

    def _logits_jac(self, D, task: str, theta) -> tuple[np.ndarray, np.ndarray]:
        """``(logits [n, k], d logits / d theta [n, k, 7])`` for a task's classes."""
        theta = np.asarray(theta, dtype=np.float64)
        loc = {m: d @ theta for m, d in D.items()}
        races = np.stack([loc["IR"], loc["B"], loc["OR"]], 1)
        p = softmax(races, axis=1)  # "fault": any location (logsumexp), its gradient the mix
        loc["fault"] = logsumexp(races, axis=1)
        jac = {m: d for m, d in D.items()}
        jac["fault"] = np.einsum("nm,nmj->nj", p, np.stack([D["IR"], D["B"], D["OR"]], 1))
        maps = self.maps[task]
        counts = np.array([maps.count(m) for m in maps], dtype=float)
        logits = np.stack([loc[m] for m in maps], 1) - np.log(counts)  # sizes share a location
        return logits, np.stack([jac[m] for m in maps], 1)

    def _logits(self, E: dict[str, np.ndarray], task: str, theta=None) -> np.ndarray:
        theta = self.theta[task] if theta is None else theta
        return self._logits_jac(self._design(E), task, theta)[0]

    # -- fitting --------------------------------------------------------------------------------
    def _fit_theta(self, E, y, task: str, l2: float) -> list[float]:
        """Class-balanced maximum likelihood, L2 on the evidence weights (analytic gradient)."""
        k = len(self.classes[task])
        counts = np.bincount(y, minlength=k).astype(float)
        w = (1.0 / np.maximum(counts, 1.0))[y]
        w /= w.sum()
        rows = np.arange(len(y))
        D = self._design(E)
        pen = np.ones(len(self._theta0()))
        pen[-1] = 0.0  # normal's bias is not penalised

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            logits, jac = self._logits_jac(D, task, theta)
            lp = log_softmax(logits, axis=1)
            resid = np.exp(lp)
            resid[rows, y] -= 1.0  # d(-log p_y)/d logits
            grad = np.einsum("n,nk,nkj->j", w, resid, jac) + 2 * l2 * pen * theta
            return float(-(w * lp[rows, y]).sum() + l2 * np.sum(pen * theta**2)), grad

        res = minimize(nll, self._theta0(), jac=True, method="L-BFGS-B")
        return [float(v) for v in res.x]

    def _balanced_accuracy(self, E, y, task, theta) -> float:
        pred = self._logits(E, task, theta).argmax(1)
        return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))

    def _choose_l2(self, train: WindowSet, val: WindowSet | None, task: str) -> tuple[float, str]:
        """The penalty: leave-one-value-out of ``select_by`` on the training windows, else
        on the validation windows, else the default."""
        grid = list(self.params.l2_grid) or [self.l2]
        col = self.params.select_by
        E, y, m = self._labelled(train, task)
        groups = (
            train.info[col].to_numpy()[m] if col and col in train.info.columns else np.zeros(len(y))
        )
        values = np.unique(groups.astype(str))
        folds: list[tuple[dict, np.ndarray, dict, np.ndarray]] = []
        if len(values) >= 2:
            g = groups.astype(str)
            for v in values:
                tr, te = g != v, g == v
                folds.append((_rows(E, tr), y[tr], _rows(E, te), y[te]))
            how = f"leave-one-{col}-out on the training windows"
        elif val is not None and len(val) and task in val.y:
            Ev, yv, _ = self._labelled(val, task)
            folds.append((E, y, Ev, yv))
            how = "the validation windows"
        if not folds or len(grid) == 1:
            return (grid[0] if len(grid) == 1 else self.l2), "default l2"
        scores = [
            float(np.mean([self._balanced_accuracy(e2, y2, task, self._fit_theta(e1, y1, task, l2))
                           for e1, y1, e2, y2 in folds]))
            for l2 in grid
        ]  # fmt: skip
        best = int(np.argmax(scores))
        table = ", ".join(f"{l2:g}: {s:.3f}" for l2, s in zip(grid, scores))
        return grid[best], f"l2 {grid[best]:g} chosen on {how} (balanced accuracy {table})"

    def _labelled(self, ws: WindowSet, task: str):
        y = ws.y.get(task)
        if y is None:
            raise DataError(f"training windows have no labels for task {task!r}")
        m = y != NOT_APPLICABLE
        return _rows(self.evidence(ws.X), m), y[m], m

    def fit(
        self, train: WindowSet, val: WindowSet | None = None, run_dir: Path | None = None
    ) -> FitResult:
        t0 = time.perf_counter()
        notes = []
        for task in self.tasks:
            l2, how = self._choose_l2(train, val, task)
            E, y, _ = self._labelled(train, task)
            self.theta[task] = self._fit_theta(E, y, task, l2)
            self.l2 = l2
            notes.append(f"{task}: {how}")
        row = {"epoch": 1.0, **self._score_row("train", train)}
        if val is not None and len(val):
            row.update(self._score_row("val", val))
        return FitResult(
            history=[row],
            epochs=1,
            best_epoch=1,
            train_seconds=time.perf_counter() - t0,
            notes=notes,
        )

    def _score_row(self, role: str, ws: WindowSet) -> dict[str, float]:
        E = self.evidence(ws.X)
        accs = []
        for task in self.tasks:
            y = ws.y.get(task)
            if y is None or not (y != NOT_APPLICABLE).any():
                continue
            m = y != NOT_APPLICABLE
            accs.append(float((self._logits(E, task)[m].argmax(1) == y[m]).mean()))
        return {f"{role}_accuracy": float(np.mean(accs))} if accs else {}

    # -- contract ---------------------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        E = self.evidence(X)
        return {t: softmax(self._logits(E, t), axis=1).astype(np.float32) for t in self.tasks}

    def explain(self, X: np.ndarray) -> dict[str, Any]:
        """Evidence for windows ``X`` (one recording): each family's line and period z-score
        against the decoy orders (mean over windows), the log kurtosis, each location's score
        (its logit before the softmax, mean over windows: how the weights read that evidence),
        and the verdict."""
        E = self.evidence(X)
        proba = {t: softmax(self._logits(E, t), axis=1) for t in self.tasks}
        # the location task's weights when there is one (a detection task's read "fault")
        theta = np.asarray(self.theta.get("location", next(iter(self.theta.values()))))
        D = self._design(E)
        return {
            "evidence": self.params.evidence,
            "location_scores": {m: float((D[m] @ theta).mean()) for m in ("IR", "B", "OR")},
            "verdict": {t: self.classes[t][int(p.mean(0).argmax())] for t, p in proba.items()},
            "z_vs_decoys": {
                f"{'2x' if loc == 'B' else ''}{FAMILY[loc]}": {
                    "line": float(E["line"][:, i].mean()),
                    "period": float(E["period"][:, i].mean()),
                }
                for i, loc in enumerate(("IR", "B", "OR"))
            },
            "log_kurtosis": float(E["kurtosis"].mean()),
            "n_windows": int(len(X)),
        }

    def describe(self) -> ModelSummary:
        n = sum(len(th) for th in self.theta.values())
        return ModelSummary(
            name=self.name,
            family=self.family,
            n_params=n,
            trainable_params=n,
            size_bytes=len(json.dumps(self._state())),
            layers=[
                {"name": "contrast", "type": "DecoyZScores", "output_shape": [7], "params": 0},
                {
                    "name": "gate",
                    "type": "SharedRaceLogits",
                    "output_shape": [len(c) for c in self.classes.values()],
                    "params": n,
                },
            ],
            text=(
                "every family's line/period vs decoy orders, gated by kurtosis; ball when no "
                "race stands out"
                if self.gated
                else "race lines/periods vs decoy orders + kurtosis; ball when no race stands out"
            ),
            extra=self._state(),
        )

    def _state(self) -> dict[str, Any]:
        return {"theta": self.theta, "l2": self.l2}

    def _set_state(self, state: dict[str, Any]) -> None:
        theta = {t: [float(v) for v in th] for t, th in state["theta"].items()}
        n = len(self._theta0())
        if any(len(th) != n for th in theta.values()):
            raise DataError(
                f"envelope-contrast: saved weights have {sorted({len(t) for t in theta.values()})} "
                f"numbers per task; evidence {self.params.evidence!r} needs {n}"
            )
        self.theta = theta
        self.l2 = float(state["l2"])


def _rows(E: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in E.items()}
