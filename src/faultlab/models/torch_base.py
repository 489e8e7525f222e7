"""``TorchModel``: the FaultModel for every deep network.

A concrete model only builds a *backbone* (``[batch, channels, length] -> [batch, F]``);
this class adds input normalisation, one head per task, the multi-task loss, batched
prediction, a torchinfo summary and save/load of ``model.pt``. It has no training loop:
:func:`faultlab.training.fit.fit_model` (a floor above) trains ``net`` through the hooks
``check_shape``, ``labels``, ``prepare`` (input normalisation) and ``loss``. The normalisation statistics are buffers of the network, so a
saved model (and an exported one) applies them to raw windows by itself.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from faultlab.contracts import ModelSummary
from faultlab.data.store import is_lazy, moments
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.models.base import FaultModel, ModelParams
from faultlab.models.heads import MultiHead, MultiTaskLoss, balanced_class_weights
from faultlab.utils.io import atomic_path

WEIGHTS_NAME = "model.pt"

#: A dropout rate, and the activations a network may name.
Rate = Annotated[float, Field(ge=0, lt=1)]
Activation = Literal["relu", "gelu", "silu", "tanh", "elu"]
NormMode = Literal["auto", "global", "feature", "window", "none"]


class TorchParams(ModelParams):
    """Options every torch model accepts (each deep model's params extend these)."""

    input_norm: NormMode = Field(
        default="auto",
        description="auto: feature for tables, else global; global: mean/std per channel "
        "(keeps amplitude differences); feature: per channel and position; window: z-score "
        "each window; none",
    )
    head_dropout: Rate = Field(default=0.0, description="dropout before each task head")


TP = TypeVar("TP", bound=TorchParams)


class InputNorm(nn.Module):
    """``(x - mean) / std`` with buffers ``[C, L]`` filled from training data at fit time."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, input_shape: tuple[int, int], per_window: bool = False) -> None:
        super().__init__()
        self.per_window = per_window
        self.register_buffer("mean", torch.zeros(input_shape))
        self.register_buffer("std", torch.ones(input_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_window:
            mu = x.mean(dim=-1, keepdim=True)
            sd = x.std(dim=-1, keepdim=True).clamp(min=1e-8)
            return (x - mu) / sd
        return (x - self.mean) / self.std

    @torch.no_grad()
    def fit(self, X: np.ndarray, mode: str) -> None:
        if mode in ("none", "window"):
            return
        axes = (0, 2) if mode == "global" else (0,)
        mean, std = moments(X, axes)  # chunk by chunk for windows in an on-disk store
        std = np.where(std > 1e-12, std, 1.0)
        if mode == "global":
            mean, std = mean[:, None], std[:, None]
        shape = self.mean.shape
        self.mean.copy_(torch.tensor(np.broadcast_to(mean, shape), dtype=torch.float32))
        self.std.copy_(torch.tensor(np.broadcast_to(std, shape), dtype=torch.float32))


class FaultNet(nn.Module):
    """normalise -> backbone -> heads; returns task -> logits."""

    def __init__(
        self,
        norm: InputNorm,
        backbone: nn.Module,
        heads: nn.Module,  # task -> logits (MultiHead, or a model's own head)
    ) -> None:
        super().__init__()
        self.norm = norm
        self.backbone = backbone
        self.heads = heads

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.backbone(self.norm(x)))

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(pooled backbone features ``[B, F]``, task -> logits): what adaptation aligns."""
        feats = self.backbone(self.norm(x))
        return feats, self.heads(feats)


class TupleOutput(nn.Module):
    """Wraps a FaultNet so it returns a tuple of logits in task order (for ONNX/TorchScript)."""

    def __init__(self, net: FaultNet, tasks: list[str]) -> None:
        super().__init__()
        self.net = net
        self.tasks = list(tasks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x)
        return tuple(out[t] for t in self.tasks)


class TorchModel(FaultModel[TP]):
    """Base of all deep models; subclasses implement :meth:`build_backbone`."""

    family = "deep"
    supports_adaptation = True

    def __init__(self, classes, input_shape, params=None, training=None) -> None:
        super().__init__(classes, input_shape, params, training)
        mode = self.params.input_norm
        # Same seed -> same initial weights, without disturbing the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.training.seed)
            backbone = self.build_backbone()
            n_feat = self._feature_dim(backbone)
            self.n_features = n_feat
            heads = MultiHead(n_feat, self.classes, self.params.head_dropout)
        self.net = FaultNet(
            InputNorm(self.input_shape, per_window=mode == "window"), backbone, heads
        )
        self.net.eval()

    # -- what subclasses provide ---------------------------------------------------------------
    @abstractmethod
    def build_backbone(self) -> nn.Module:
        """A module mapping ``[batch, channels, length]`` to features ``[batch, F]``."""

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]

    @property
    def length(self) -> int:
        return self.input_shape[1]

    def _feature_dim(self, backbone: nn.Module) -> int:
        backbone.eval()
        with torch.no_grad():
            out = backbone(torch.zeros(2, *self.input_shape))
        if out.ndim != 2:
            raise ConfigError(
                f"model {self.name!r}: backbone returned shape {tuple(out.shape)}, expected [batch, F]"
            )
        return int(out.shape[1])

    # -- what the training loop calls (faultlab.training.fit) ----------------------------------
    def labels(self, ws: WindowSet, role: str) -> dict[str, np.ndarray]:
        """Task -> labels of ``ws`` for this model's tasks (a missing task is a ConfigError)."""
        missing = [t for t in self.tasks if t not in ws.y]
        if missing:
            raise ConfigError(f"{role} windows lack task(s) {missing}; they have {ws.tasks}")
        return {t: ws.y[t] for t in self.tasks}

    def check_shape(self, X: np.ndarray, role: str) -> None:
        if X.ndim != 3 or tuple(X.shape[1:]) != self.input_shape:
            raise ConfigError(
                f"model {self.name!r}: {role} windows have shape {tuple(X.shape)}, "
                f"expected [n, {self.input_shape[0]}, {self.input_shape[1]}]"
            )

    def prepare(self, train: WindowSet) -> str:
        """Fill the input normalisation from the training windows; returns the mode used."""
        mode = self.params.input_norm
        if mode == "auto":
            mode = "feature" if train.feature_names else "global"
        self.net.norm.fit(train.X, mode)
        return mode

    def loss(self, y: dict[str, np.ndarray]) -> MultiTaskLoss:
        """The multi-task loss for training labels ``y`` (``training.class_weights`` and
        ``training.label_smoothing``)."""
        cfg = self.training
        weights = None
        if cfg.class_weights:
            weights = {t: balanced_class_weights(y[t], len(self.classes[t])) for t in self.tasks}
        return MultiTaskLoss(weights, cfg.label_smoothing)

    # -- inference -----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray, batch_size: int = 512) -> dict[str, np.ndarray]:
        if not is_lazy(X):  # a store's windows are read batch by batch below
            X = np.asarray(X, dtype=np.float32)
        if X.ndim == 2:
            X = X[:, None, :]
        self.check_shape(X, "input")
        self.net.eval()
        dev = self.device
        parts: dict[str, list[np.ndarray]] = {t: [] for t in self.tasks}
        for i in range(0, len(X), batch_size):
            xb = torch.from_numpy(X[i : i + batch_size]).to(dev)
            out = self.net(xb)
            for t in self.tasks:
                parts[t].append(torch.softmax(out[t].float(), dim=1).cpu().numpy())
        return {
            t: np.concatenate(p) if p else np.zeros((0, len(self.classes[t])), np.float32)
            for t, p in parts.items()
        }

    def export_module(self) -> nn.Module:
        """The network with tuple outputs (task order = ``self.tasks``) for ONNX/TorchScript."""
        return TupleOutput(self.net, self.tasks).eval()

    # -- description ---------------------------------------------------------------------------
    def describe(self) -> ModelSummary:
        import torchinfo

        dev = self.device
        stats = torchinfo.summary(
            self.net,
            input_size=(1, *self.input_shape),
            device=dev,
            verbose=0,
            depth=4,
            col_names=("output_size", "num_params"),
            mode="eval",
        )
        layers = []
        for info in stats.summary_list:
            if info.depth == 0:
                continue
            layers.append(
                {
                    "name": info.get_layer_name(show_var_name=True, show_depth=False),
                    "type": info.class_name,
                    "depth": info.depth,
                    "output_shape": list(info.output_size) if info.output_size else [],
                    "params": int(info.num_params),
                    "leaf": bool(info.is_leaf_layer),
                }
            )
        n_params = sum(p.numel() for p in self.net.parameters())
        trainable = sum(p.numel() for p in self.net.parameters() if p.requires_grad)
        size = sum(p.numel() * p.element_size() for p in self.net.parameters()) + sum(
            b.numel() * b.element_size() for b in self.net.buffers()
        )
        return ModelSummary(
            name=self.name,
            family=self.family,
            n_params=int(n_params),
            trainable_params=int(trainable),
            size_bytes=int(size),
            layers=layers,
            text=str(stats),
            extra={
                "input_shape": list(self.input_shape),
                "params": self.params_dict(),
                "tasks": {t: len(c) for t, c in self.classes.items()},
            },
        )

    # -- persistence ---------------------------------------------------------------------------
    def _save_weights(self, directory: Path) -> None:
        state = {k: v.detach().cpu() for k, v in self.net.state_dict().items()}
        with atomic_path(Path(directory) / WEIGHTS_NAME) as tmp:
            torch.save(state, tmp)

    def _load_weights(self, directory: Path) -> None:
        path = Path(directory) / WEIGHTS_NAME
        if not path.exists():
            raise ConfigError(f"{path}: weights file missing")
        try:  # weights_only: a pickle that would construct anything but tensors is refused
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as exc:  # UnpicklingError (not weights), EOFError (empty), bad zip
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise ConfigError(
                f"{path}: unreadable weights ({type(exc).__name__}: {first})"
            ) from None
        try:
            self.net.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{path}: weights do not fit model {self.name!r} ({str(exc).splitlines()[0]})"
            ) from None
        self.net.eval()


# -- helpers architectures share to adapt to any window length --------------------------------
def fit_stride(length: int, stride: int, min_out: int) -> int:
    """The largest stride <= ``stride`` that leaves at least ``min_out`` steps (>= 1)."""
    return max(1, min(int(stride), int(length) // max(1, int(min_out))))


def as_list(value: Any, n: int, name: str) -> list:
    """A scalar repeated ``n`` times, or a list that must have ``n`` entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ConfigError(f"option {name}: {len(value)} values for {n} layers")
        return list(value)
    return [value] * n


def activation(name: str) -> nn.Module:
    table = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "elu": nn.ELU}
    if name not in table:
        raise ConfigError(f"option activation: {name!r} not in {sorted(table)}")
    return table[name]()
