"""Patch transformer: non-overlapping patches -> linear embedding + learned positions ->
pre-norm encoder -> mean or [CLS] pooling. Patches shrink for short inputs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from faultlab.errors import ConfigError
from faultlab.models.base import register_model
from faultlab.models.torch_base import TorchModel, torch_defaults


class PatchTransformer(nn.Module):
    def __init__(self, in_ch: int, length: int, p: dict) -> None:
        super().__init__()
        d = int(p["d_model"])
        if d % int(p["heads"]):
            raise ConfigError(f"option d_model={d} must be divisible by heads={p['heads']}")
        self.patch = max(1, min(int(p["patch"]), length // max(1, int(p["min_patches"]))))
        self.n_patches = math.ceil(length / self.patch)
        self.pad = self.n_patches * self.patch - length
        self.embed = nn.Conv1d(in_ch, d, self.patch, stride=self.patch)
        self.pooling = p["pooling"]
        if self.pooling not in ("mean", "cls"):
            raise ConfigError(f"option pooling: {self.pooling!r} not in ['cls', 'mean']")
        n_tok = self.n_patches + (1 if self.pooling == "cls" else 0)
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if self.pooling == "cls" else None
        self.pos = nn.Parameter(torch.randn(1, n_tok, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d,
            int(p["heads"]),
            int(p["ff_dim"]),
            float(p["dropout"]),
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, int(p["layers"]), enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (0, self.pad))
        h = self.embed(x).transpose(1, 2)  # [B, patches, d]
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)
        h = self.norm(self.encoder(h + self.pos))
        return h[:, 0] if self.cls is not None else h.mean(dim=1)


@register_model(
    "transformer",
    "patch transformer: patch embedding, learned positions, encoder, mean/cls pooling",
    "deep",
    torch_defaults(
        patch=16,
        min_patches=8,
        d_model=64,
        heads=4,
        layers=2,
        ff_dim=128,
        dropout=0.1,
        pooling="mean",
    ),
)
class TransformerModel(TorchModel):
    def build_backbone(self) -> nn.Module:
        return PatchTransformer(self.in_channels, self.length, self.params)
