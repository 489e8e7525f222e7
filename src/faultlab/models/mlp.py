"""Fully connected network on the flattened window (a baseline every deep model must beat)."""

from __future__ import annotations

from pydantic import Field, PositiveInt
from torch import nn

from faultlab.models.base import register_model
from faultlab.models.torch_base import (
    Activation,
    Rate,
    TorchModel,
    TorchParams,
    activation,
    as_list,
)


class MLPParams(TorchParams):
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [256, 128], description="units per hidden layer"
    )
    dropout: Rate | list[Rate] = Field(
        default=0.2, description="after each hidden layer (one value, or one per layer)"
    )
    batch_norm: bool = Field(default=True, description="BatchNorm after each linear layer")
    activation: Activation = Field(default="relu", description="activation function")


@register_model("mlp", "fully connected network on the flattened window", "deep", MLPParams)
class MLPModel(TorchModel[MLPParams]):
    def build_backbone(self) -> nn.Module:
        p = self.params
        drops = as_list(p.dropout, len(p.hidden), "dropout")
        layers: list[nn.Module] = [nn.Flatten()]
        width = self.in_channels * self.length
        for h, d in zip(p.hidden, drops):
            layers.append(nn.Linear(width, h))
            if p.batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(activation(p.activation))
            if d:
                layers.append(nn.Dropout(d))
            width = h
        return nn.Sequential(*layers)
