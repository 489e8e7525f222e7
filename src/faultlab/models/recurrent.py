"""Recurrent models: ``rnn``, ``lstm``, ``gru`` and ``lstm_attention``.

A 1024-sample window is far too long to feed one sample per step (slow, and gradients
vanish over 1024 steps), so a *front end* first turns it into a short sequence:

- ``frontend: stft`` (default): log-magnitude spectra of ``frame``-sample Hann frames every
  ``hop`` samples (:class:`faultlab.models.frontends.LogSTFT`; each window z-scored first),
  BatchNorm per frequency, then projected to ``proj_dim``. 1024 samples, frame 128, hop 64
  -> 15 steps of 65 bins. Spectra are what transfers across motor loads: on CWRU
  leave-one-load-out (4 folds) the LSTM went from 95.4 % to 99.9 % mean accuracy, the GRU
  from 93.2 % to 99.9 % (benchmarks/train_speed.py --all-folds).
- ``frontend: chunk``: ``L / chunk`` steps of ``chunk`` raw samples x channels, optionally
  projected (``proj: linear`` or overlapping ``conv``).

Inputs too short for ``min_steps`` frames (tabular rows: 27 features) always use the chunk
front end; the chunk shrinks so at least ``min_steps`` steps remain (27 -> 9 steps of 3), and
the window is zero-padded on the right when its length is not a multiple of the chunk.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, model_validator
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.frontends import LogSTFT, n_frames
from faultlab.models.torch_base import (
    Activation,
    Rate,
    TorchModel,
    TorchParams,
    activation,
    as_list,
)

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def effective_chunk(length: int, chunk: int, min_steps: int) -> int:
    return max(1, min(int(chunk), int(length) // max(1, int(min_steps))))


class AttentionPool(nn.Module):
    """Additive attention over time: softmax(v . tanh(W h_t)) weighted sum of h_t."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.score(h).squeeze(-1), dim=1)
        return torch.bmm(w.unsqueeze(1), h).squeeze(1)


class RecurrentParams(TorchParams):
    frontend: Literal["stft", "chunk"] = Field(
        default="stft", description="log-STFT frames, or chunks of raw samples, as the steps"
    )
    frame: int = Field(default=128, ge=2, description="stft: samples per frame")
    hop: PositiveInt = Field(default=64, description="stft: samples between frames (<= frame)")
    spec_log: Literal["log1p", "power"] = Field(
        default="log1p", description="stft: log1p of the magnitude, or log power"
    )
    spec_norm: Literal["batch", "none"] = Field(
        default="batch", description="stft: BatchNorm per (channel, frequency)"
    )
    spec_standardise: bool = Field(
        default=True, description="stft: z-score each window before the transform"
    )
    chunk: PositiveInt = Field(default=32, description="chunk: samples per step")
    min_steps: PositiveInt = Field(
        default=8, description="fewer stft frames: chunk instead; chunks shrink to give this many"
    )
    proj: Literal["linear", "conv"] = Field(
        default="linear", description="projection of each step (conv: overlapping chunks)"
    )
    proj_dim: int = Field(default=64, ge=0, description="projected step width (0: none)")
    proj_activation: Activation = Field(default="gelu", description="after the projection")
    layers: PositiveInt = Field(default=2, description="stacked recurrent layers")
    units: PositiveInt | list[PositiveInt] = Field(
        default=64, description="units per layer (one value, or one per layer)"
    )
    bidirectional: bool = Field(default=True, description="read each sequence both ways")
    dropout: Rate | list[Rate] = Field(
        default=0.1, description="after each layer (one value, or one per layer)"
    )
    pooling: Literal["last", "mean", "attention"] = Field(
        default="mean", description="over time: last step, mean, or additive attention"
    )
    attention_dim: PositiveInt = Field(default=64, description="attention: hidden width")

    @model_validator(mode="after")
    def _frame_hop(self) -> RecurrentParams:
        if self.hop > self.frame:
            raise ValueError(f"hop {self.hop} must be <= frame {self.frame}")
        return self


class AttentionParams(RecurrentParams):
    pooling: Literal["last", "mean", "attention"] = Field(
        default="attention", description="over time: last step, mean, or additive attention"
    )


class RecurrentBackbone(nn.Module):
    def __init__(self, cell: str, in_ch: int, length: int, p: RecurrentParams) -> None:
        super().__init__()
        # short inputs (tabular rows) have too few frames for a spectrum: chunk them instead
        self.stft = None
        if p.frontend == "stft" and n_frames(length, p.frame, p.hop) >= p.min_steps:
            self.stft = LogSTFT(in_ch, p.frame, p.hop, p.spec_log, p.spec_norm, p.spec_standardise)
        self.chunk = effective_chunk(length, p.chunk, p.min_steps)
        self.steps = math.ceil(length / self.chunk)
        self.pad = self.steps * self.chunk - length
        width = self.stft.features if self.stft is not None else in_ch * self.chunk
        self.conv_proj = bool(
            p.proj == "conv" and p.proj_dim and self.chunk > 1 and self.stft is None
        )
        if self.conv_proj:
            # overlapping chunks: kernel 2*chunk, stride chunk -> still `steps` steps
            k = 2 * self.chunk
            self.proj_conv = nn.Conv1d(
                in_ch, p.proj_dim, k, stride=self.chunk, padding=self.chunk // 2
            )
        if p.proj_dim:
            first = nn.Identity() if self.conv_proj else nn.Linear(width, p.proj_dim)
            self.proj = nn.Sequential(
                first, nn.LayerNorm(p.proj_dim), activation(p.proj_activation)
            )
            width = p.proj_dim
        else:
            self.proj = nn.Identity()
        n = p.layers
        units = as_list(p.units, n, "units")
        drops = as_list(p.dropout, n, "dropout")
        dirs = 2 if p.bidirectional else 1
        self.rnns = nn.ModuleList()
        self.drops = nn.ModuleList()
        kw = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        for u, d in zip(units, drops):
            self.rnns.append(
                _CELLS[cell](width, int(u), batch_first=True, bidirectional=dirs == 2, **kw)
            )
            self.drops.append(nn.Dropout(float(d)) if d else nn.Identity())
            width = int(u) * dirs
        self.last_units = int(units[-1])
        self.bidirectional = dirs == 2
        self.pooling = p.pooling
        self.attn = AttentionPool(width, p.attention_dim) if self.pooling == "attention" else None

    def steps_of(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L]`` -> the RNN's input sequence ``[B, steps, width]``."""
        if self.stft is not None:
            return self.proj(self.stft(x))
        b, c, _ = x.shape
        if self.pad:
            x = F.pad(x, (0, self.pad))
        if self.conv_proj:
            return self.proj(self.proj_conv(x).transpose(1, 2)[:, : self.steps])
        # [B, C, S*k] -> [B, S, C*k]: each step sees `chunk` consecutive samples of every channel
        h = (
            x.reshape(b, c, self.steps, self.chunk)
            .permute(0, 2, 1, 3)
            .reshape(b, self.steps, c * self.chunk)
        )
        return self.proj(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.steps_of(x)
        for rnn, drop in zip(self.rnns, self.drops):
            h, _ = rnn(h)
            h = drop(h)
        if self.attn is not None:
            return self.attn(h)
        if self.pooling == "mean":
            return h.mean(dim=1)
        if self.bidirectional:  # forward direction ends at the last step, backward at the first
            u = self.last_units
            return torch.cat([h[:, -1, :u], h[:, 0, u:]], dim=1)
        return h[:, -1]


class _RecurrentModel(TorchModel[RecurrentParams]):
    cell = "lstm"

    def build_backbone(self) -> nn.Module:
        return RecurrentBackbone(self.cell, self.in_channels, self.length, self.params)


@register_model(
    "rnn",
    "Elman RNN over log-STFT frames (raw-sample chunks for short inputs)",
    "deep",
    RecurrentParams,
)
class RNNModel(_RecurrentModel):
    cell = "rnn"


@register_model(
    "lstm",
    "LSTM over log-STFT frames (raw-sample chunks for short inputs)",
    "deep",
    RecurrentParams,
)
class LSTMModel(_RecurrentModel):
    cell = "lstm"


@register_model(
    "gru",
    "GRU over log-STFT frames (raw-sample chunks for short inputs)",
    "deep",
    RecurrentParams,
)
class GRUModel(_RecurrentModel):
    cell = "gru"


@register_model(
    "lstm_attention",
    "LSTM over log-STFT frames (chunks for short inputs), attention pooling",
    "deep",
    AttentionParams,
)
class LSTMAttentionModel(_RecurrentModel):
    cell = "lstm"
