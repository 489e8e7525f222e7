"""Recurrent models: ``rnn``, ``lstm``, ``gru`` and ``lstm_attention``.

A 1024-sample window is far too long to feed one sample per step (slow, and gradients
vanish over 1024 steps). The window is cut into ``L / chunk`` steps of ``chunk`` samples x
channels, optionally projected to ``proj_dim``, and only then fed to the RNN: 32 steps of 32
samples train fast and learn well. The chunk shrinks for short inputs so at least
``min_steps`` steps remain (27 tabular features -> 9 steps of 3), and the window is
zero-padded on the right when its length is not a multiple of the chunk.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from faultlab.errors import ConfigError
from faultlab.models.base import register_model
from faultlab.models.torch_base import TorchModel, activation, as_list, torch_defaults

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def effective_chunk(length: int, chunk: int, min_steps: int) -> int:
    return max(1, min(int(chunk), int(length) // max(1, int(min_steps))))


class AttentionPool(nn.Module):
    """Additive attention over time: softmax(v . tanh(W h_t)) weighted sum of h_t."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.score(h).squeeze(-1), dim=1)
        return torch.bmm(w.unsqueeze(1), h).squeeze(1)


class RecurrentBackbone(nn.Module):
    def __init__(self, cell: str, in_ch: int, length: int, p: dict) -> None:
        super().__init__()
        self.chunk = effective_chunk(length, p["chunk"], p["min_steps"])
        self.steps = math.ceil(length / self.chunk)
        self.pad = self.steps * self.chunk - length
        width = in_ch * self.chunk
        if p["proj_dim"]:
            self.proj = nn.Sequential(nn.Linear(width, p["proj_dim"]), nn.LayerNorm(p["proj_dim"]),
                                      activation(p["proj_activation"]))
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
            self.rnns.append(_CELLS[cell](width, int(u), batch_first=True, bidirectional=dirs == 2, **kw))
            self.drops.append(nn.Dropout(float(d)) if d else nn.Identity())
            width = int(u) * dirs
        self.last_units = int(units[-1])
        self.bidirectional = dirs == 2
        self.pooling = p["pooling"]
        if self.pooling not in ("last", "mean", "attention"):
            raise ConfigError(f"option pooling: {self.pooling!r} not in ['attention', 'last', 'mean']")
        self.attn = AttentionPool(width, int(p["attention_dim"])) if self.pooling == "attention" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _ = x.shape
        if self.pad:
            x = F.pad(x, (0, self.pad))
        # [B, C, S*k] -> [B, S, C*k]: each step sees `chunk` consecutive samples of every channel
        h = x.reshape(b, c, self.steps, self.chunk).permute(0, 2, 1, 3).reshape(b, self.steps, c * self.chunk)
        h = self.proj(h)
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
    chunk=32, min_steps=8, proj_dim=64, proj_activation="gelu", layers=2, units=64,
    bidirectional=True, dropout=0.1, pooling="mean", attention_dim=64,
)


class _RecurrentModel(TorchModel):
    cell = "lstm"

    def build_backbone(self) -> nn.Module:
        return RecurrentBackbone(self.cell, self.in_channels, self.length, self.params)


@register_model("rnn", "Elman RNN over chunked windows (chunk x channels per step)", "deep",
                torch_defaults(**_RNN_DEFAULTS))
class RNNModel(_RecurrentModel):
    cell = "rnn"


@register_model("lstm", "LSTM over chunked windows (chunk x channels per step)", "deep",
                torch_defaults(**_RNN_DEFAULTS))
class LSTMModel(_RecurrentModel):
    cell = "lstm"


@register_model("gru", "GRU over chunked windows (chunk x channels per step)", "deep",
                torch_defaults(**_RNN_DEFAULTS))
class GRUModel(_RecurrentModel):
    cell = "gru"


@register_model("lstm_attention", "LSTM over chunked windows with additive attention pooling", "deep",
                torch_defaults(**{**_RNN_DEFAULTS, "pooling": "attention"}))
class LSTMAttentionModel(_RecurrentModel):
    cell = "lstm"
