"""``linenet``: a learned defect-line detector shared by every fault family.

A network fed the whole order-domain envelope spectrum learns what *one* training bearing's
faults look like (which lines, how strong) and fails on a bearing whose defect is another
size. This one reads, for each fault family (BPFI, 2xBSF, BPFO), only that family's own patch
of the order-envelope front end: the first ``impact_harmonics`` harmonics of its impact rate
on the defect axis (+- ``half_width`` orders, local floor = 1) and, when the front end has
it, the envelope autocorrelation around its impact periods. The SAME small MLP scores every
family's patch (weights shared across families), so what it learns is "what a defect family
looks like above the floor", not "which lines bearing X had"; a linear head maps the three
family scores to the classes. Needs the front end on the defect axis (declared in its own
params, so the runner applies it and the model reads its layout, as ``envelope`` does).

For a bearing the model has never seen (CWRU leave-one-size-out), the patch can instead be
the family's evidence contrasted against decoy orders of the same window (``blocks:
[contrast]``, front end ``contrast: true``: line and period robust z-scores plus the window's
log kurtosis, :mod:`faultlab.features.defect_contrast`), with ``ball_detector: own``: the two
races share one detector, the ball has its own, so "ball" can be learnt as "no race stands
out" rather than as a race-like line (the ``envelope-contrast`` structure, learnt end to end).
``ball_kurtosis: false`` keeps the window's kurtosis out of the ball's patch: trained on
ball faults that ring no more than noise, the ball's own detector otherwise learns "the more
Gaussian, the more ball", and ranks a window with no evidence at all above a ball window
whose 2xBSF lines do stand out. ``kurtosis_gate: true`` adds each family's line and period
z-score times the window's log kurtosis to its patch (the ``envelope-contrast`` ``evidence:
gated`` reading: periodic at the family's rate AND impulsive); with ``ball_detector: shared``
and ``class_bias: true`` it is that model's structure with a learnt detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import Field, PositiveInt, field_validator, model_validator
from torch import nn

from faultlab.errors import ConfigError
from faultlab.features.order_envelope import OrderEnvelopeConfig
from faultlab.features.periodicity import IMPACT_RATE, fault_families
from faultlab.models.base import register_model
from faultlab.models.envelope import DEFAULT_FRONTEND as ENVELOPE_FRONTEND
from faultlab.models.envelope import defect_frontend, location_of
from faultlab.models.torch_base import (
    Activation,
    NormMode,
    Rate,
    TorchModel,
    TorchParams,
    activation,
)

#: the envelope expert's front end (defect axis, autocorrelation block), log-scaled.
DEFAULT_FRONTEND = {**ENVELOPE_FRONTEND, "scale": "log"}


def family_patches(
    fe: OrderEnvelopeConfig,
    channels: int,
    impact_harmonics: int,
    blocks: Sequence[str] = ("spectrum", "periodicity"),
) -> np.ndarray:
    """``[F, P]`` column indices into the flattened ``[C * K]`` front-end output: per fault
    family, the ``blocks`` it reads, for every channel: ``spectrum`` its impact-rate
    harmonics on the defect axis (a ball spot strikes at 2 x BSF, so its harmonics are BSF's
    even ones), ``periodicity`` its autocorrelation block (when the front end has one),
    ``contrast`` its line and period z-scores against decoy orders plus the window's log
    kurtosis (the front end's ``contrast: true`` block)."""
    K, H, n_off = fe.n_outputs, fe.harmonics, len(fe.offsets)
    spec = len(fe.spectrum_names())
    fams = fault_families(fe.families)
    n_lag = len(fe.lag_offsets)
    names = fe.names()
    if "contrast" in blocks and not fe.contrast:
        raise ConfigError("linenet: blocks has contrast; set frontend.contrast: true")
    rows = []
    for fi, f in enumerate(fams):
        cols: list[int] = []
        if "spectrum" in blocks:
            step = int(IMPACT_RATE[f])
            ks = [step * (j + 1) for j in range(impact_harmonics)]
            if ks[-1] > H:
                raise ConfigError(
                    f"linenet: impact_harmonics {impact_harmonics} of {f} need "
                    f"frontend.harmonics >= {ks[-1]}"
                )
            f_idx = fe.families.index(f)
            cols += [(f_idx * H + k - 1) * n_off + o for k in ks for o in range(n_off)]
        if "periodicity" in blocks and fe.periodicity:
            start = spec + fi * fe.periodicity * n_lag
            cols += list(range(start, start + fe.periodicity * n_lag))
        if "contrast" in blocks:
            keys = [f"contrast:line:{f}", f"contrast:period:{f}", "contrast:log_kurtosis"]
            cols += [names.index(k) for k in keys]
        rows.append([c * K + i for c in range(channels) for i in cols])
    if not rows or not rows[0]:
        raise ConfigError(f"linenet: blocks {list(blocks)} give an empty patch")
    return np.asarray(rows, dtype=np.int64)


def _mlp(width: int, hidden: list[int], dropout: float, act: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, int(h)), activation(act)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class SharedLineDetector(nn.Module):
    """``[B, C, K]`` -> ``[B, F]``: one MLP scores each family's patch (a scalar each);
    families listed in ``own`` (the ball's, with ``ball_detector: own``) get their own MLP."""

    idx: torch.Tensor
    own_mask: torch.Tensor
    keep: torch.Tensor
    gate_ev: torch.Tensor
    gate_k: torch.Tensor

    def __init__(
        self,
        patches: np.ndarray,
        hidden: list[int],
        dropout: float,
        act: str,
        own: Sequence[int] = (),
        keep: np.ndarray | None = None,
        gate: tuple[Sequence[int], Sequence[int]] = ((), ()),
    ) -> None:
        super().__init__()
        self.register_buffer("idx", torch.as_tensor(patches))
        mask = torch.zeros(patches.shape[0], dtype=torch.bool)
        mask[list(own)] = True
        self.register_buffer("own_mask", mask)
        # [F, P] 1/0: a patch column a family does not read (the ball's kurtosis) reads 0;
        # rebuilt from the params, not saved (models saved before it still load)
        ones = np.ones(patches.shape, np.float32) if keep is None else keep
        self.register_buffer("keep", torch.as_tensor(ones), persistent=False)
        # gate: patch positions of evidence columns and of the kurtosis each one is multiplied
        # by (appended to the patch); rebuilt from the params, not saved
        ev, kk = (torch.as_tensor(list(g), dtype=torch.long) for g in gate)
        self.register_buffer("gate_ev", ev, persistent=False)
        self.register_buffer("gate_k", kk, persistent=False)
        width = patches.shape[1] + len(ev)
        self.mlp = _mlp(width, hidden, dropout, act)
        self.own = _mlp(width, hidden, dropout, act) if own else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)
        patches = flat[:, self.idx] * self.keep  # [B, F, P]
        if self.gate_ev.numel():
            gated = patches[..., self.gate_ev] * patches[..., self.gate_k]
            patches = torch.cat([patches, gated], dim=-1)
        score = self.mlp(patches).squeeze(-1)
        if self.own is not None:
            score = torch.where(self.own_mask, self.own(patches).squeeze(-1), score)
        return score


class FamilyHead(nn.Module):
    """Task -> logits ``scale x score(family of the class) + bias``: a class can only win
    through its own family's evidence (``normal``: its bias alone, a threshold; ``fault``:
    the strongest family)."""

    def __init__(self, index: dict[str, list[int]], bias: bool = True) -> None:
        super().__init__()
        self.tasks = list(index)
        for t, idx in index.items():
            self.register_buffer(f"idx_{t}", torch.as_tensor(idx, dtype=torch.long))
        self.scale = nn.ParameterDict({t: nn.Parameter(torch.ones(1)) for t in index})
        self.bias = nn.ParameterDict(
            {t: nn.Parameter(torch.zeros(len(i)), requires_grad=bias) for t, i in index.items()}
        )

    def forward(self, scores: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        best = scores.max(dim=1, keepdim=True).values
        for t in self.tasks:
            idx = getattr(self, f"idx_{t}")
            picked = scores[:, idx.clamp(min=0)]
            picked = torch.where(idx == -2, best, torch.where(idx == -1, 0.0 * picked, picked))
            out[t] = picked * self.scale[t] + self.bias[t]
        return out


def family_index(classes: dict[str, list[str]], families: tuple[str, ...]) -> dict[str, list[int]]:
    """Per task and class: the column of its family's score (-1 normal, -2 any fault)."""
    fam_of = {"IR": "BPFI", "B": "BSF", "OR": "BPFO"}
    out = {}
    for t, names in classes.items():
        idx = []
        for name in names:
            loc = location_of(name)
            if loc is None:
                idx.append(-1)
            elif loc == "fault":
                idx.append(-2)
            elif fam_of[loc] in families:
                idx.append(families.index(fam_of[loc]))
            else:
                raise ConfigError(f"linenet: class {name!r} needs family {fam_of[loc]}")
        out[t] = idx
    return out


class LineNetParams(TorchParams):
    input_norm: NormMode = Field(
        default="none", description="none: the front end already reads times the local floor"
    )
    frontend: OrderEnvelopeConfig = Field(
        default_factory=lambda: OrderEnvelopeConfig.model_validate(DEFAULT_FRONTEND),
        description="the order-envelope front end (defect axis) whose layout the model reads",
    )
    impact_harmonics: PositiveInt = Field(
        default=2, description="impact-rate harmonics of each family in its patch"
    )
    class_bias: bool = Field(
        default=False,
        description="a learned offset per class (learns the TRAINING bearings' evidence "
        "strength, which another bearing does not share)",
    )
    blocks: list[Literal["spectrum", "periodicity", "contrast"]] = Field(
        default_factory=lambda: ["spectrum", "periodicity"],
        description="front-end blocks in each family's patch: its spectrum harmonics, its "
        "envelope autocorrelation, its z-scores against decoy orders + log kurtosis "
        "(contrast: needs frontend.contrast: true)",
    )
    ball_detector: Literal["shared", "own"] = Field(
        default="shared",
        description="shared: one detector for every family; own: the races (BPFI, BPFO) "
        "share one, the ball (2xBSF) has its own (a ball fault's evidence looks unlike a "
        "race's; the two races still cannot learn their training bearing's strength)",
    )
    ball_kurtosis: bool = Field(
        default=True,
        description="false: the ball's patch leaves out the window's log kurtosis (it reads "
        "only its 2xBSF line and period evidence), so a window where nothing stands out is "
        "not the ball's strongest case; impulsiveness stays with the race detectors",
    )
    kurtosis_gate: bool = Field(
        default=False,
        description="true: each family's contrast patch also reads its line and period "
        "z-scores times the window's log kurtosis (needs blocks: [contrast])",
    )
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [16], description="units of the shared detector's layers"
    )
    dropout: Rate = Field(default=0.1, description="after each hidden layer")
    activation: Activation = Field(default="relu", description="activation function")

    @field_validator("frontend")
    @classmethod
    def _defect_axis(cls, fe: OrderEnvelopeConfig) -> OrderEnvelopeConfig:
        return defect_frontend(fe, all_families=False)

    @model_validator(mode="after")
    def _blocks_in_frontend(self) -> LineNetParams:
        if not self.blocks:
            raise ValueError("blocks: name at least one of spectrum, periodicity, contrast")
        if "contrast" in self.blocks and not self.frontend.contrast:
            raise ValueError("blocks has contrast: its frontend needs contrast: true")
        if self.kurtosis_gate and "contrast" not in self.blocks:
            raise ValueError("kurtosis_gate needs blocks: [contrast]")
        return self


@register_model(
    "linenet",
    "shared defect-line detector over each fault family's order-envelope patch (deep)",
    "deep",
    LineNetParams,
)
class LineNetModel(TorchModel[LineNetParams]):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        index = family_index(self.classes, fault_families(self.params.frontend.families))
        self.net.heads = FamilyHead(index, self.params.class_bias)

    def build_backbone(self) -> nn.Module:
        p = self.params
        fe = p.frontend
        if fe.n_outputs != self.length:
            raise ConfigError(
                f"linenet: windows of length {self.length}; its front end gives "
                f"{fe.n_outputs} (is the order_envelope front end applied?)"
            )
        patches = family_patches(fe, self.in_channels, p.impact_harmonics, p.blocks)
        fams = fault_families(fe.families)
        own = [fams.index("BSF")] if p.ball_detector == "own" and "BSF" in fams else []
        keep = None
        if not p.ball_kurtosis and "BSF" in fams and "contrast" in p.blocks:
            kurt = fe.names().index("contrast:log_kurtosis")
            cols = patches[fams.index("BSF")] % fe.n_outputs  # column within each channel
            keep = np.ones(patches.shape, np.float32)
            keep[fams.index("BSF"), cols == kurt] = 0.0
        gate = _gate_positions(fe, patches) if p.kurtosis_gate else ((), ())
        return SharedLineDetector(patches, p.hidden, p.dropout, p.activation, own, keep, gate)


def _gate_positions(fe: OrderEnvelopeConfig, patches: np.ndarray) -> tuple[list[int], list[int]]:
    """Patch positions of every line / period z-score and of the kurtosis of its channel (the
    same positions in every family's patch: each reads line, period, kurtosis per channel)."""
    names = fe.names()
    col = patches[0] % fe.n_outputs  # column within its channel
    chan = patches[0] // fe.n_outputs
    kurt = names.index("contrast:log_kurtosis")
    is_ev = np.array([names[c].startswith(("contrast:line:", "contrast:period:")) for c in col])
    k_of = {int(ch): int(np.flatnonzero((chan == ch) & (col == kurt))[0]) for ch in set(chan)}
    ev = [int(i) for i in np.flatnonzero(is_ev)]
    return ev, [k_of[int(chan[i])] for i in ev]
