"""InceptionTime-style network (Ismail Fawaz et al. 2020): modules of a bottleneck plus
parallel convolutions of three kernel sizes and a max-pool branch, a residual shortcut every
three modules, global average pooling. A strided stem shortens long windows for CPUs."""

from __future__ import annotations

import torch
from pydantic import Field, PositiveInt
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.torch_base import TorchModel, TorchParams, fit_stride


class InceptionParams(TorchParams):
    filters: PositiveInt = Field(default=16, description="filters per branch of a module")
    kernels: list[PositiveInt] = Field(
        default_factory=lambda: [9, 19, 39],
        description="kernel widths of the parallel branches (made odd, capped by the length)",
        min_length=1,
    )
    bottleneck: int = Field(default=16, ge=0, description="1x1 bottleneck width (0: none)")
    depth: PositiveInt = Field(default=3, description="inception modules")
    residual: bool = Field(default=True, description="a shortcut around every 3 modules")
    stem_stride: PositiveInt = Field(default=4, description="average-pool stride of the stem")


class InceptionModule(nn.Module):
    def __init__(self, cin: int, filters: int, kernels: list[int], bottleneck: int) -> None:
        super().__init__()
        self.bottleneck = (
            nn.Conv1d(cin, bottleneck, 1, bias=False) if cin > 1 and bottleneck else nn.Identity()
        )
        bin_ = bottleneck if cin > 1 and bottleneck else cin
        self.convs = nn.ModuleList(
            nn.Conv1d(bin_, filters, k, padding=k // 2, bias=False) for k in kernels
        )
        self.pool_branch = nn.Sequential(
            nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(cin, filters, 1, bias=False)
        )
        self.bn = nn.BatchNorm1d(filters * (len(kernels) + 1))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bottleneck(x)
        outs = [conv(b) for conv in self.convs] + [self.pool_branch(x)]
        return self.act(self.bn(torch.cat(outs, dim=1)))


class InceptionNet(nn.Module):
    def __init__(self, in_ch: int, length: int, p: InceptionParams) -> None:
        super().__init__()
        stride = fit_stride(length, p.stem_stride, 32)
        self.stem = nn.AvgPool1d(stride, stride) if stride > 1 else nn.Identity()
        kernels = [max(3, min(k, max(3, length // stride)) | 1) for k in p.kernels]
        width = p.filters * (len(kernels) + 1)
        self.modules_ = nn.ModuleList()
        self.shortcuts = nn.ModuleList()
        ch = res_ch = in_ch
        for i in range(p.depth):
            self.modules_.append(InceptionModule(ch, p.filters, kernels, p.bottleneck))
            ch = width
            if p.residual and i % 3 == 2:
                self.shortcuts.append(
                    nn.Sequential(nn.Conv1d(res_ch, width, 1, bias=False), nn.BatchNorm1d(width))
                )
                res_ch = width
        self.residual = p.residual
        self.pool = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        res = x
        k = 0
        for i, mod in enumerate(self.modules_):
            x = mod(x)
            if self.residual and i % 3 == 2:
                x = torch.relu(x + self.shortcuts[k](res))
                res = x
                k += 1
        return self.pool(x)


@register_model(
    "inception",
    "InceptionTime-style: bottleneck + multi-kernel conv modules, residuals, average pooling",
    "deep",
    InceptionParams,
)
class InceptionModel(TorchModel[InceptionParams]):
    def build_backbone(self) -> nn.Module:
        return InceptionNet(self.in_channels, self.length, self.params)
