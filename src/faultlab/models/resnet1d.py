"""1-D ResNet: strided stem, stages of residual blocks (BN-ReLU convs), global average pool."""

from __future__ import annotations

import torch
from pydantic import Field, PositiveInt
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.torch_base import Rate, TorchModel, TorchParams, fit_stride


class ResNet1DParams(TorchParams):
    stem_channels: PositiveInt = Field(default=32, description="filters of the stem convolution")
    stem_kernel: PositiveInt = Field(default=31, description="width of the stem kernel (made odd)")
    stem_stride: PositiveInt = Field(default=4, description="stride of the stem")
    stem_pool: PositiveInt = Field(default=2, description="max-pooling after the stem (1: none)")
    stages: list[PositiveInt] = Field(
        default_factory=lambda: [32, 64, 64],
        description="filters per stage (stride 2 after the first)",
    )
    blocks_per_stage: PositiveInt = Field(default=1, description="residual blocks per stage")
    kernel: PositiveInt = Field(default=7, description="width of the block kernels")
    dropout: Rate = Field(default=0.1, description="between a block's two convolutions")


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(cout),
            nn.ReLU(),
            nn.Dropout(dropout) if dropout else nn.Identity(),
            nn.Conv1d(cout, cout, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(cout),
        )
        self.skip = (
            nn.Identity()
            if cin == cout and stride == 1
            else nn.Sequential(
                nn.Conv1d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm1d(cout)
            )
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class ResNet1D(nn.Module):
    def __init__(self, in_ch: int, length: int, p: ResNet1DParams) -> None:
        super().__init__()
        stride = fit_stride(length, p.stem_stride, 64)
        k = max(3, min(p.stem_kernel, length) | 1)
        layers: list[nn.Module] = [
            nn.Conv1d(in_ch, p.stem_channels, k, stride=stride, padding=k // 2, bias=False),
            nn.BatchNorm1d(p.stem_channels),
            nn.ReLU(),
        ]
        cur = (length - 1) // stride + 1
        if p.stem_pool > 1 and cur >= 32 * p.stem_pool:
            layers.append(nn.MaxPool1d(p.stem_pool))
            cur //= p.stem_pool
        ch = p.stem_channels
        for i, width in enumerate(p.stages):
            for j in range(p.blocks_per_stage):
                s = 2 if (i > 0 and j == 0 and cur >= 8) else 1
                layers.append(BasicBlock(ch, width, p.kernel, s, p.dropout))
                cur = (cur - 1) // s + 1
                ch = width
        self.body = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.body(x))


@register_model(
    "resnet1d",
    "1-D ResNet: strided stem, residual BN-ReLU blocks, global average pooling",
    "deep",
    ResNet1DParams,
)
class ResNet1DModel(TorchModel[ResNet1DParams]):
    def build_backbone(self) -> nn.Module:
        return ResNet1D(self.in_channels, self.length, self.params)
