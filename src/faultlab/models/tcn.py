"""Temporal convolutional network (Bai et al. 2018): residual blocks of dilated *causal*
convolutions (left padding only), dilation doubling per block so the receptive field grows
exponentially. A strided stem first shortens 1024-sample windows so CPUs can train it."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.torch_base import Rate, TorchModel, TorchParams, fit_stride


class TCNParams(TorchParams):
    channels: list[PositiveInt] = Field(
        default_factory=lambda: [32, 32, 32, 32, 32],
        description="filters per block (dilation doubles per block)",
        min_length=1,
    )
    kernel: PositiveInt = Field(default=5, description="width of the causal kernels")
    dropout: Rate = Field(default=0.1, description="after each convolution")
    stem_stride: PositiveInt = Field(default=8, description="stride of the stem")
    pooling: Literal["mean", "last"] = Field(
        default="mean", description="average over time, or the last (causal) step"
    )


class CausalConv(nn.Conv1d):
    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__(cin, cout, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class TemporalBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            CausalConv(cin, cout, kernel, dilation),
            nn.BatchNorm1d(cout),
            nn.ReLU(),
            nn.Dropout(dropout),
            CausalConv(cout, cout, kernel, dilation),
            nn.BatchNorm1d(cout),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class TCN(nn.Module):
    def __init__(self, in_ch: int, length: int, p: TCNParams) -> None:
        super().__init__()
        stride = fit_stride(length, p.stem_stride, 16)
        k = max(stride, 1)
        first = p.channels[0]
        self.stem = (
            nn.Sequential(
                nn.Conv1d(in_ch, first, k, stride=stride), nn.BatchNorm1d(first), nn.ReLU()
            )
            if stride > 1
            else nn.Conv1d(in_ch, first, 1)
        )
        blocks = []
        ch = first
        for i, width in enumerate(p.channels):
            blocks.append(TemporalBlock(ch, width, p.kernel, 2**i, p.dropout))
            ch = width
        self.blocks = nn.Sequential(*blocks)
        self.pooling = p.pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return h[:, :, -1] if self.pooling == "last" else h.mean(dim=2)


@register_model(
    "tcn",
    "temporal convolutional network: dilated causal residual blocks after a strided stem",
    "deep",
    TCNParams,
)
class TCNModel(TorchModel[TCNParams]):
    def build_backbone(self) -> nn.Module:
        return TCN(self.in_channels, self.length, self.params)
