"""``ensemble``: soft voting over registered models trained on the same windows.

Two models that fail on different windows (a physics rule and a small network on the same
evidence) are often better together: each member is built from its own ``{name, params}``,
fitted on the same training (and validation) windows, and their per-window probabilities are
averaged, per task::

    mean_proba:    p = sum_i w_i p_i
    mean_logproba: p = softmax(sum_i w_i log p_i)   (a geometric mean; confident agreement)

Weights are fixed (``weights: [..]``, normalised to sum 1; ``null``: equal) or chosen on the
VALIDATION windows given to ``fit`` (``weights: val``: a grid on the simplex, best balanced
accuracy (``weights_score``: optionally plus macro ROC-AUC), then lowest log loss; never test
windows). Members of one spec with different ``seed_offset`` are a seed average. The
runner's refit on train + val keeps the weights the first fit chose
(:meth:`EnsembleModel.refit_options`); a fit with no validation windows at all has nothing
to choose on, uses equal weights and says so.

Front ends: a window front end (``frontend: {kind: order_envelope, ...}``) is applied by the
runner to every window BEFORE ``fit`` / ``predict_proba`` (it needs each window's speed and
bearing), so all members must ask for the same one (or none): the ensemble resolves it from
its members (:meth:`EnsembleModel.window_frontend`) and refuses members that differ, naming
the options that differ. The members keep their own ``frontend`` params (they read its
layout). The saved ensemble is a folder per member (``member0/``, ...: each member's own
``model.json`` and weights, no pickle) plus ``ensemble.json`` (the weights used). A refit
(``split.val.refit``) retrains every member for one number of epochs, the largest any deep
member's early stopping chose (one-shot members ignore it).
Export to ONNX / TorchScript is not offered (``faultlab predict`` uses the native model).
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from faultlab.data.types import NOT_APPLICABLE, WindowSet
from faultlab.errors import ConfigError, DataError
from faultlab.features.window_frontend import WindowFrontend, split_frontend
from faultlab.models.base import (
    FaultModel,
    FitResult,
    MemberFit,
    ModelParams,
    ModelSummary,
    build_model,
    get_spec,
    load_model,
    parse_params,
    register_model,
)
from faultlab.utils.io import write_json

STATE_FILE = "ensemble.json"
#: Grid step of the simplex searched by ``weights: val`` (members <= MAX_SEARCHED).
GRID_STEP = 0.1
MAX_SEARCHED = 4


class MemberSpec(BaseModel):
    """One member: a registered model and its options (as in ``models:`` of a config)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="a registered model")
    params: dict[str, Any] = Field(default_factory=dict, description="its model.params")
    seed_offset: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="trained with training.seed + this (members of the same spec with other "
        "offsets: a seed average; equal offsets train identical networks)",
    )


class EnsembleParams(ModelParams):
    members: list[MemberSpec] = Field(
        default_factory=list,
        description="the models to combine, each {name, params}; all trained on the same windows",
    )
    weights: list[float] | Literal["val"] | None = Field(
        default=None,
        description="one weight per member (normalised), null: equal, val: chosen on the "
        "validation windows (kept by the refit on train + val; equal when fit gets none)",
    )
    weights_score: Literal["balanced_accuracy", "balanced_accuracy+roc_auc"] = Field(
        default="balanced_accuracy",
        description="weights: val: the validation score the grid maximises (then lowest log "
        "loss); +roc_auc adds the macro one-vs-rest ROC-AUC, so the ranking counts too",
    )
    combine: Literal["mean_proba", "mean_logproba"] = Field(
        default="mean_proba",
        description="mean_proba: weighted mean of probabilities; mean_logproba: weighted "
        "mean of log probabilities, renormalised (geometric)",
    )

    @model_validator(mode="after")
    def _members_known(self) -> EnsembleParams:
        for i, m in enumerate(self.members):
            try:
                spec = get_spec(m.name)
                _, params = split_frontend(spec.defaults, m.params)
                parse_params(spec.params, params, m.name)
            except ConfigError as exc:
                raise ValueError(f"members[{i}]: {exc}") from None
        if isinstance(self.weights, list):
            if len(self.weights) != len(self.members):
                raise ValueError(
                    f"weights has {len(self.weights)} value(s) for {len(self.members)} member(s)"
                )
            if min(self.weights) < 0 or sum(self.weights) <= 0:
                raise ValueError(f"weights {self.weights}: non-negative, not all zero")
        return self


def member_frontends(members: list[MemberSpec]) -> list[WindowFrontend | None]:
    """Each member's window front end (None: it reads raw windows)."""
    return [split_frontend(get_spec(m.name).defaults, m.params)[0] for m in members]


def shared_frontend(members: list[MemberSpec]) -> WindowFrontend | None:
    """The one window front end all members ask for; a ConfigError naming what differs."""
    fes = member_frontends(members)
    first = fes[0] if fes else None
    for i, fe in enumerate(fes[1:], start=1):
        a = first.record() if first is not None else None
        b = fe.record() if fe is not None else None
        if a == b:
            continue
        if a is None or b is None:
            what = "one reads raw windows, the other a front end"
        else:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            what = ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in diff)
        raise ConfigError(
            f"model.params.members: {members[0].name} and {members[i].name} need different "
            f"window front ends ({what}); the runner applies one front end to every member: "
            "give them the same frontend options"
        )
    return first


@register_model(
    "ensemble",
    "soft voting over registered models trained on the same windows (weighted mean of "
    "probabilities)",
    "ensemble",
    EnsembleParams,
)
class EnsembleModel(FaultModel[EnsembleParams]):
    family = "ensemble"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.params.members:
            raise ValueError("members: name at least one model")
        shared_frontend(self.params.members)  # members that cannot share windows: now
        self.members: list[FaultModel] = [
            build_model(
                m.name,
                classes=self.classes,
                input_shape=self.input_shape,
                params=split_frontend(get_spec(m.name).defaults, m.params)[1],
                training=self._member_training(m),
            )
            for m in self.params.members
        ]
        self.weights = self._fixed_weights()
        self.weights_source = "fixed" if isinstance(self.params.weights, list) else "equal"

    def _member_training(self, m: MemberSpec) -> Any:
        """The ensemble's training options, the seed moved by the member's ``seed_offset``."""
        if not m.seed_offset:
            return self.training
        return self.training.model_copy(update={"seed": self.training.seed + m.seed_offset})

    @classmethod
    def window_frontend(
        cls, params: dict[str, Any] | None
    ) -> tuple[WindowFrontend | None, dict[str, Any]]:
        """``(the members' shared window front end, params for the ensemble)`` (the runner)."""
        typed = parse_params(EnsembleParams, params, "ensemble")
        return shared_frontend(typed.members), dict(params or {})

    def _fixed_weights(self) -> list[float]:
        w = self.params.weights
        raw = list(w) if isinstance(w, list) else [1.0] * len(self.params.members)
        return [float(v) / float(sum(raw)) for v in raw]

    # -- combining ------------------------------------------------------------------------------
    def _combine(self, probas: list[dict[str, np.ndarray]], weights) -> dict[str, np.ndarray]:
        w = np.asarray(weights, dtype=np.float64)
        out = {}
        for t in self.tasks:
            P = np.stack([p[t] for p in probas]).astype(np.float64)  # [members, n, k]
            if self.params.combine == "mean_logproba":
                logp = np.einsum("m,mnk->nk", w, np.log(np.clip(P, 1e-12, 1.0)))
                logp -= logp.max(axis=1, keepdims=True)
                q = np.exp(logp)
            else:
                q = np.einsum("m,mnk->nk", w, P)
            out[t] = (q / q.sum(axis=1, keepdims=True)).astype(np.float32)
        return out

    def _score(self, proba: dict[str, np.ndarray], ws: WindowSet) -> tuple[float, float]:
        """(``weights_score``: balanced accuracy, + macro one-vs-rest ROC-AUC where the task
        has two classes or more; log loss), mean over the labelled tasks of ``ws``."""
        score, nll = [], []
        for t in self.tasks:
            y = ws.y.get(t)
            if y is None or not (y != NOT_APPLICABLE).any():
                continue
            m = y != NOT_APPLICABLE
            p, yt = proba[t][m], y[m]
            pred = p.argmax(1)
            present = np.unique(yt)
            s = float(balanced_accuracy_score(yt, pred))
            if self.params.weights_score == "balanced_accuracy+roc_auc" and len(present) > 1:
                s += float(np.mean([float(roc_auc_score(yt == c, p[:, c])) for c in present]))
            score.append(s)
            nll.append(-np.log(np.clip(p[np.arange(len(yt)), yt], 1e-12, 1.0)).mean())
        if not score:
            return float("nan"), float("nan")
        return float(np.mean(score)), float(np.mean(nll))

    def _accuracy(self, proba: dict[str, np.ndarray], ws: WindowSet) -> float:
        """Plain accuracy, mean over the labelled tasks (as the other models' history rows)."""
        accs = [
            float((proba[t][m].argmax(1) == ws.y[t][m]).mean())
            for t in self.tasks
            if t in ws.y and (m := ws.y[t] != NOT_APPLICABLE).any()
        ]
        return float(np.mean(accs)) if accs else float("nan")

    def _choose_weights(self, val: WindowSet) -> tuple[list[float], str]:
        """The simplex grid point with the best ``weights_score`` on ``val`` (then log loss)."""
        n = len(self.members)
        if n > MAX_SEARCHED:
            return self._fixed_weights(), f"{n} members: too many to search, equal weights"
        probas = [m.predict_proba(val.X) for m in self.members]
        steps = int(round(1 / GRID_STEP))
        grid = [c for c in itertools.product(range(steps + 1), repeat=n) if sum(c) == steps]
        scored = []
        for c in grid:
            w = [v / steps for v in c]
            bal, nll = self._score(self._combine(probas, w), val)
            scored.append((-bal, nll, w))
        neg_bal, nll, best = min(scored, key=lambda s: (s[0], s[1]))
        text = ", ".join(f"{m.name} {v:.1f}" for m, v in zip(self.params.members, best))
        return best, (
            f"weights {text} chosen on the {len(val)} validation windows "
            f"({self.params.weights_score} {-neg_bal:.3f}, log loss {nll:.3f}; grid step {GRID_STEP:g})"
        )

    # -- contract -------------------------------------------------------------------------------
    def fit(
        self, train: WindowSet, val: WindowSet | None = None, run_dir: Path | None = None
    ) -> FitResult:
        """Each member by its own ``fit``: one-shot members only (a deep member has no loop
        of its own; ``training.fit.fit_model`` trains the ensemble through ``fit_members``)."""
        return self.fit_members(lambda m, tr, va: m.fit(tr, va, None), train, val)

    def fit_members(self, fit: MemberFit, train: WindowSet, val: WindowSet | None) -> FitResult:
        """Each member trained by ``fit`` on the same windows (no checkpoints), then the
        weights; ``fit_model`` passes itself, so a deep member gets the training loop."""
        t0 = time.perf_counter()
        fits = [fit(m, train, val) for m in self.members]
        notes = [
            f"member {i} {spec.name}: {note}"
            for i, (spec, f) in enumerate(zip(self.params.members, fits))
            for note in f.notes
        ]
        has_val = val is not None and len(val) > 0
        if self.params.weights == "val" and has_val:
            assert val is not None
            self.weights, how = self._choose_weights(val)
            self.weights_source = "val"
        else:
            how = f"weights {self.weights} ({self.weights_source})"
            if self.params.weights == "val":
                how += ": weights val but no validation windows in this fit"
        notes.append(f"{self.params.combine}; {how}")
        # the refit retrains every member for this many epochs (the deep members' choice)
        best = [f.best_epoch for f in fits if f.best_epoch is not None and f.epochs > 1]
        epochs = max([f.epochs for f in fits] or [1])
        row: dict[str, float] = {"epoch": 1.0}
        for role, ws in (("train", train), ("val", val)):
            if ws is not None and len(ws):
                row[f"{role}_accuracy"] = self._accuracy(self.predict_proba(ws.X), ws)
        return FitResult(
            history=[row],
            epochs=epochs,
            best_epoch=max(best) if best else epochs,
            train_seconds=time.perf_counter() - t0,
            notes=notes,
        )

    def refit_options(self) -> dict[str, Any]:
        """Weights chosen on validation stay fixed in the refit on train + val."""
        return {"weights": list(self.weights)} if self.weights_source == "val" else {}

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return self._combine([m.predict_proba(X) for m in self.members], self.weights)

    def explain(self, X: np.ndarray) -> dict[str, Any] | None:
        """Evidence for windows ``X`` (one recording): that of the first member that gives
        any (an analyst model's lines or z-scores), with the ENSEMBLE's verdict beside the
        member's own; None when no member explains itself."""
        for spec, member in zip(self.params.members, self.members):
            explain = getattr(member, "explain", None)
            if explain is None:
                continue
            ev = dict(explain(X))
            proba = self.predict_proba(X)
            ev["member"], ev["member_verdict"] = spec.name, ev.get("verdict")
            ev["verdict"] = {t: self.classes[t][int(p.mean(0).argmax())] for t, p in proba.items()}
            ev["weights"] = list(self.weights)
            return ev
        return None

    def describe(self) -> ModelSummary:
        subs = [m.describe() for m in self.members]
        return ModelSummary(
            name=self.name,
            family=self.family,
            n_params=sum(s.n_params for s in subs),
            trainable_params=sum(s.trainable_params for s in subs),
            size_bytes=sum(s.size_bytes for s in subs),
            layers=[
                {
                    "name": f"member{i}",
                    "type": s.name,
                    "output_shape": [len(c) for c in self.classes.values()],
                    "params": s.n_params,
                }
                for i, s in enumerate(subs)
            ],
            text=f"{self.params.combine} of {', '.join(s.name for s in subs)}",
            extra={"weights": self.weights, "weights_source": self.weights_source},
        )

    def _save_weights(self, directory: Path) -> None:
        for i, m in enumerate(self.members):
            m.save(Path(directory) / f"member{i}")
        state = {"weights": self.weights, "weights_source": self.weights_source}
        write_json(Path(directory) / STATE_FILE, state)

    def _load_weights(self, directory: Path) -> None:
        directory = Path(directory)
        path = directory / STATE_FILE
        if not path.exists():
            raise DataError(f"{path}: ensemble state not found")
        loaded = []
        for i, spec in enumerate(self.params.members):
            member = load_model(directory / f"member{i}")
            if member.name != spec.name:
                raise DataError(
                    f"{directory / f'member{i}'}: holds {member.name!r}, the ensemble "
                    f"expects {spec.name!r}"
                )
            loaded.append(member)
        state = json.loads(path.read_text())
        weights = [float(v) for v in state["weights"]]
        if len(weights) != len(loaded):
            raise DataError(f"{path}: {len(weights)} weights for {len(loaded)} members")
        self.members, self.weights = loaded, weights
        self.weights_source = str(state.get("weights_source", "fixed"))
