"""Fully connected network on the flattened window (a baseline every deep model must beat)."""

from __future__ import annotations

from torch import nn

from faultlab.models.base import register_model
from faultlab.models.torch_base import TorchModel, activation, as_list, torch_defaults


@register_model(
    "mlp",
    "fully connected network on the flattened window",
    "deep",
    torch_defaults(hidden=[256, 128], dropout=0.2, batch_norm=True, activation="relu"),
)
class MLPModel(TorchModel):
    def build_backbone(self) -> nn.Module:
        p = self.params
        hidden = list(p["hidden"])
        drops = as_list(p["dropout"], len(hidden), "dropout")
        layers: list[nn.Module] = [nn.Flatten()]
        width = self.in_channels * self.length
        for h, d in zip(hidden, drops):
            layers.append(nn.Linear(width, int(h)))
            if p["batch_norm"]:
                layers.append(nn.BatchNorm1d(int(h)))
            layers.append(activation(p["activation"]))
            if d:
                layers.append(nn.Dropout(float(d)))
            width = int(h)
        return nn.Sequential(*layers)
