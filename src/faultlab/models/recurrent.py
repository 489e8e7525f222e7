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

import torch
import torch.nn.functional as F
from torch import nn

from faultlab.errors import ConfigError
from faultlab.models.base import register_model
from faultlab.models.frontends import LogSTFT, n_frames
from faultlab.models.torch_base import TorchModel, activation, as_list, torch_defaults

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


FRONTENDS = ("chunk", "stft")


class RecurrentBackbone(nn.Module):
    def __init__(self, cell: str, in_ch: int, length: int, p: dict) -> None:
        super().__init__()
        if p["frontend"] not in FRONTENDS:
            raise ConfigError(f"option frontend: {p['frontend']!r} not in {list(FRONTENDS)}")
        if p["spec_log"] not in ("log1p", "power") or p["spec_norm"] not in ("batch", "none"):
            raise ConfigError(
                f"option spec_log/spec_norm: {p['spec_log']!r}/{p['spec_norm']!r} not in "
                "['log1p', 'power'] / ['batch', 'none']"
            )
        if int(p["frame"]) < 2 or not 1 <= int(p["hop"]) <= int(p["frame"]):
            raise ConfigError(
                f"options frame/hop: need frame >= 2 and 1 <= hop <= frame, got "
                f"{p['frame']}/{p['hop']}"
            )
        # short inputs (tabular rows) have too few frames for a spectrum: chunk them instead
        self.stft = None
        if p["frontend"] == "stft" and n_frames(length, p["frame"], p["hop"]) >= p["min_steps"]:
            self.stft = LogSTFT(
                in_ch,
                p["frame"],
                p["hop"],
                p["spec_log"],
                p["spec_norm"],
                bool(p["spec_standardise"]),
            )
        self.chunk = effective_chunk(length, p["chunk"], p["min_steps"])
        self.steps = math.ceil(length / self.chunk)
        self.pad = self.steps * self.chunk - length
        width = self.stft.features if self.stft is not None else in_ch * self.chunk
        self.conv_proj = (
            p["proj"] == "conv" and p["proj_dim"] and self.chunk > 1 and self.stft is None
        )
        if p["proj"] not in ("linear", "conv"):
            raise ConfigError(f"option proj: {p['proj']!r} not in ['conv', 'linear']")
        if self.conv_proj:
            # overlapping chunks: kernel 2*chunk, stride chunk -> still `steps` steps
            k = 2 * self.chunk
            self.proj_conv = nn.Conv1d(
                in_ch, p["proj_dim"], k, stride=self.chunk, padding=self.chunk // 2
            )
        if p["proj_dim"]:
            first = nn.Identity() if self.conv_proj else nn.Linear(width, p["proj_dim"])
            self.proj = nn.Sequential(
                first, nn.LayerNorm(p["proj_dim"]), activation(p["proj_activation"])
            )
            width = p["proj_dim"]
        else:
            self.proj = nn.Identity()
        n = int(p["layers"])
        units = as_list(p["units"], n, "units")
        drops = as_list(p["dropout"], n, "dropout")
        dirs = 2 if p["bidirectional"] else 1
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
        self.pooling = p["pooling"]
        if self.pooling not in ("last", "mean", "attention"):
            raise ConfigError(
                f"option pooling: {self.pooling!r} not in ['attention', 'last', 'mean']"
            )
        self.attn = (
            AttentionPool(width, int(p["attention_dim"])) if self.pooling == "attention" else None
        )

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
        if self.pooling == "attention":
            return self.attn(h)
        if self.pooling == "mean":
            return h.mean(dim=1)
        if self.bidirectional:  # forward direction ends at the last step, backward at the first
            u = self.last_units
            return torch.cat([h[:, -1, :u], h[:, 0, u:]], dim=1)
        return h[:, -1]


_RNN_DEFAULTS = dict(
    frontend="stft",
    frame=128,
    hop=64,
    spec_log="log1p",
    spec_norm="batch",
    spec_standardise=True,
    chunk=32,
    min_steps=8,
    proj="linear",
    proj_dim=64,
    proj_activation="gelu",
    layers=2,
    units=64,
    bidirectional=True,
    dropout=0.1,
    pooling="mean",
    attention_dim=64,
)


class _RecurrentModel(TorchModel):
    cell = "lstm"

    def build_backbone(self) -> nn.Module:
        return RecurrentBackbone(self.cell, self.in_channels, self.length, self.params)


@register_model(
    "rnn",
    "Elman RNN over log-STFT frames (raw-sample chunks for short inputs)",
    "deep",
    torch_defaults(**_RNN_DEFAULTS),
)
class RNNModel(_RecurrentModel):
    cell = "rnn"


@register_model(
    "lstm",
    "LSTM over log-STFT frames (raw-sample chunks for short inputs)",
    "deep",
    torch_defaults(**_RNN_DEFAULTS),
)
class LSTMModel(_RecurrentModel):
    cell = "lstm"


@register_model(
    "gru",
    "GRU over log-STFT frames (raw-sample chunks for short inputs)",
    "deep",
    torch_defaults(**_RNN_DEFAULTS),
)
class GRUModel(_RecurrentModel):
    cell = "gru"


@register_model(
    "lstm_attention",
    "LSTM over log-STFT frames (chunks for short inputs), attention pooling",
    "deep",
    torch_defaults(**{**_RNN_DEFAULTS, "pooling": "attention"}),
)
class LSTMAttentionModel(_RecurrentModel):
    cell = "lstm"
