"""Patch transformer: non-overlapping patches -> linear embedding + learned positions ->
pre-norm encoder -> mean or [CLS] pooling. Patches shrink for short inputs."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, model_validator
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.torch_base import Rate, TorchModel, TorchParams


class TransformerParams(TorchParams):
    patch: PositiveInt = Field(default=16, description="samples per patch (token)")
    min_patches: PositiveInt = Field(
        default=8, description="patches shrink so a window gives at least this many"
    )
    d_model: PositiveInt = Field(default=64, description="token width")
    heads: PositiveInt = Field(default=4, description="attention heads (must divide d_model)")
    layers: PositiveInt = Field(default=2, description="encoder layers")
    ff_dim: PositiveInt = Field(default=128, description="feed-forward width")
    dropout: Rate = Field(default=0.1, description="in the encoder layers")
    pooling: Literal["mean", "cls"] = Field(
        default="mean", description="average the tokens, or read a [CLS] token"
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerParams:
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by heads={self.heads}")
        return self


class PatchTransformer(nn.Module):
    def __init__(self, in_ch: int, length: int, p: TransformerParams) -> None:
        super().__init__()
        d = p.d_model
        self.patch = max(1, min(p.patch, length // p.min_patches))
        self.n_patches = math.ceil(length / self.patch)
        self.pad = self.n_patches * self.patch - length
        self.embed = nn.Conv1d(in_ch, d, self.patch, stride=self.patch)
        self.pooling = p.pooling
        n_tok = self.n_patches + (1 if self.pooling == "cls" else 0)
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if self.pooling == "cls" else None
        self.pos = nn.Parameter(torch.randn(1, n_tok, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d,
            p.heads,
            p.ff_dim,
            p.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, p.layers, enable_nested_tensor=False)
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
    TransformerParams,
)
class TransformerModel(TorchModel[TransformerParams]):
    def build_backbone(self) -> nn.Module:
        return PatchTransformer(self.in_channels, self.length, self.params)
