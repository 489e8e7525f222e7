"""WDCNN-style 1-D CNN (Zhang et al. 2017): a wide first kernel with a large stride acts as a
learned filter bank and downsampler, then small kernels with BatchNorm and max-pooling.

``input: spectrum`` puts a fixed magnitude-spectrum layer (:class:`Spectrum`) in front, so the
convolutions read each window's frequency content (UDTL's FFT input: far more load-invariant
on CWRU than raw samples). For short inputs (27 tabular features) the first stride and kernel shrink and pooling stops
once a layer's length would fall below 2, so the same model runs on any length.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, PositiveInt
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.frontends import Spectrum
from faultlab.models.torch_base import (
    Activation,
    Rate,
    TorchModel,
    TorchParams,
    activation,
    fit_stride,
)


class CNN1DParams(TorchParams):
    input: Literal["time", "spectrum"] = Field(
        default="time",
        description="time: raw samples; spectrum: |DFT| of each window (L/2 bins) first",
    )
    spectrum_log: Literal["none", "log1p", "log"] = Field(
        default="none", description="input spectrum: magnitude as is, log1p or log of it"
    )
    spectrum_norm: Literal["window", "none"] = Field(
        default="window", description="input spectrum: z-score each window's spectrum, or not"
    )
    first_kernel: PositiveInt = Field(default=64, description="width of the first (wide) kernel")
    first_stride: PositiveInt = Field(default=16, description="stride of the first kernel")
    first_channels: PositiveInt = Field(default=16, description="filters of the first layer")
    channels: list[PositiveInt] = Field(
        default_factory=lambda: [32, 64, 64, 64], description="filters of the small-kernel layers"
    )
    kernel: PositiveInt = Field(default=3, description="width of the small kernels")
    pool: PositiveInt = Field(default=2, description="max-pooling factor after each layer")
    pooling: Literal["flatten", "mean", "avg"] = Field(
        default="flatten", description="flatten the last feature map, or average it over time"
    )
    fc: int = Field(default=100, ge=0, description="units of the dense layer (0: none)")
    dropout: Rate = Field(default=0.0, description="after the dense layer")
    activation: Activation = Field(default="relu", description="activation function")


class WDCNN(nn.Module):
    def __init__(self, in_ch: int, length: int, p: CNN1DParams) -> None:
        super().__init__()
        self.spectrum: nn.Module = nn.Identity()
        if p.input == "spectrum":
            spectrum = Spectrum(length, p.spectrum_log, p.spectrum_norm)
            self.spectrum, length = spectrum, spectrum.bins
        stride = fit_stride(length, p.first_stride, 32)
        kernel = max(stride, min(p.first_kernel, max(3, length // 4)))
        pad = max(0, (kernel - stride) // 2)
        act = p.activation
        layers: list[nn.Module] = [
            nn.Conv1d(in_ch, p.first_channels, kernel, stride=stride, padding=pad),
            nn.BatchNorm1d(p.first_channels),
            activation(act),
        ]
        cur = (length + 2 * pad - kernel) // stride + 1
        if cur >= 2 * p.pool:
            layers.append(nn.MaxPool1d(p.pool))
            cur //= p.pool
        ch = p.first_channels
        k = p.kernel
        for out in p.channels:
            layers += [nn.Conv1d(ch, out, k, padding=k // 2), nn.BatchNorm1d(out), activation(act)]
            if cur >= 2 * p.pool:
                layers.append(nn.MaxPool1d(p.pool))
                cur //= p.pool
            ch = out
        self.features = nn.Sequential(*layers)
        if p.pooling == "flatten":
            self.pool = nn.Flatten()
            flat = ch * cur
        else:
            self.pool = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())
            flat = ch
        fc: list[nn.Module] = []
        if p.fc:
            fc = [nn.Linear(flat, p.fc), nn.BatchNorm1d(p.fc), activation(act)]
            if p.dropout:
                fc.append(nn.Dropout(p.dropout))
        elif p.dropout:
            fc.append(nn.Dropout(p.dropout))
        self.fc = nn.Sequential(*fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(self.spectrum(x))))


@register_model(
    "cnn1d",
    "WDCNN-style 1-D CNN: wide strided first kernel, small kernels, BatchNorm, pooling",
    "deep",
    CNN1DParams,
)
class CNN1DModel(TorchModel[CNN1DParams]):
    def build_backbone(self) -> nn.Module:
        return WDCNN(self.in_channels, self.length, self.params)
