"""Classification heads and the multi-task loss.

One Linear per task of ``classes`` covers every target: flat multi-class (``class``), binary
(``detection``) and multi-task (``detection`` + ``location`` + ``size``). Labels of -1 mean
"not applicable" (fault size of a healthy bearing) and contribute nothing to the loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faultlab.data.types import NOT_APPLICABLE


class MultiHead(nn.Module):
    """Task -> logits from shared features ``[batch, F]``."""

    def __init__(
        self, in_features: int, classes: dict[str, list[str]], dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.heads = nn.ModuleDict({t: nn.Linear(in_features, len(c)) for t, c in classes.items()})

    def forward(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.dropout(feats)
        return {t: head(feats) for t, head in self.heads.items()}


def balanced_class_weights(labels, n_classes: int) -> torch.Tensor:
    """``n / (k * count)`` per class over applicable labels (absent classes get weight 1)."""
    labels = torch.as_tensor(labels)
    labels = labels[labels != NOT_APPLICABLE]
    counts = torch.bincount(labels, minlength=n_classes).double()
    w = torch.ones(n_classes, dtype=torch.float64)
    present = counts > 0
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w.float()


class MultiTaskLoss(nn.Module):
    """Sum over tasks of cross-entropy with ``ignore_index=-1``.

    Each task's loss is a mean over its *applicable* labels, computed as a sum divided by a
    clamped count, so a batch where a task never applies (all-normal batch for ``size``)
    adds 0 rather than NaN.
    """

    def __init__(
        self, weights: dict[str, torch.Tensor] | None = None, label_smoothing: float = 0.0
    ) -> None:
        super().__init__()
        self.weights = dict(weights or {})
        self.label_smoothing = float(label_smoothing)

    def forward(
        self, logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        total = None
        for task, out in logits.items():
            y = targets[task]
            w = self.weights.get(task)
            if w is not None:
                w = w.to(out.device)
            s = F.cross_entropy(
                out,
                y,
                weight=w,
                ignore_index=NOT_APPLICABLE,
                label_smoothing=self.label_smoothing,
                reduction="sum",
            )
            valid = y != NOT_APPLICABLE
            if w is None:
                denom = valid.sum().to(s.dtype)
            else:
                denom = (w[y.clamp(min=0)] * valid).sum().to(s.dtype)
            term = s / denom.clamp(min=1e-12)
            total = term if total is None else total + term
        assert total is not None
        return total
