"""Unsupervised domain adaptation: losses on pooled features and the target-batch loop.

A deep model is fitted on labelled *source* windows while an :class:`Adapter` draws batches
of unlabelled *target* windows and adds an alignment loss on the backbone's pooled features
(the input of the heads). The adapter is built from an :class:`UnlabelledWindows` (``X``
only): it has no label to read, so no target label can reach a loss or the choice of weights.

Methods (``training.adaptation.method``):

- ``adabn``: source-only training, then BatchNorm statistics re-estimated on target windows
  (Li et al. 2018);
- ``coral``: Deep CORAL, distance of feature covariances (Sun & Saenko 2016);
- ``mmd``: multi-kernel MMD, DAN (Long et al. 2015);
- ``jmmd``: joint MMD over features x predictions, JAN (Long et al. 2017);
- ``dann``: domain discriminator behind a gradient-reversal layer (Ganin et al. 2016);
- ``cdan`` / ``cdan+e``: discriminator on features (x) predictions, +entropy weighting
  (Long et al. 2018).

Every loss is multiplied by ``weight`` and, with ``schedule: dann``, by
``2 / (1 + exp(-10 p)) - 1`` where ``p`` is training progress (0 -> 1), the schedule of DANN
also used by UDTL for all methods; for adversarial methods the same factor scales the
reversed gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from faultlab.data.types import UnlabelledWindows
from faultlab.errors import ConfigError
from faultlab.training.config import AdaptationConfig

#: method -> one line for ``faultlab models`` and reports.
METHODS: dict[str, str] = {
    "none": "source-only: no adaptation (the baseline every method is compared with)",
    "adabn": "AdaBN: BatchNorm statistics re-estimated on the unlabelled target windows",
    "coral": "Deep CORAL: match second-order statistics (covariances) of pooled features",
    "mmd": "MK-MMD (DAN): multi-kernel maximum mean discrepancy of pooled features",
    "jmmd": "JMMD (JAN): joint MMD of pooled features and predicted class probabilities",
    "dann": "DANN: domain discriminator behind a gradient-reversal layer",
    "cdan": "CDAN: discriminator on features (x) predictions (conditional adversarial)",
    "cdan+e": "CDAN+E: CDAN with entropy conditioning (confident target windows weigh more)",
}

ADVERSARIAL = ("dann", "cdan", "cdan+e")
#: Methods that change the training step (adabn only acts after training).
STEP_METHODS = ("coral", "mmd", "jmmd", *ADVERSARIAL)


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity forward; gradient multiplied by ``-coeff`` backward."""
    return _GradReverse.apply(x, coeff)


def progress_factor(p: float) -> float:
    """DANN's schedule ``2 / (1 + exp(-10 p)) - 1``: 0 at the start, ~1 at the end."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(p, 0.0), 1.0))) - 1.0


# --- losses ----------------------------------------------------------------------------------


def coral_loss(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius distance of the feature covariances, / (4 d^2)."""
    d = fs.shape[1]

    def cov(f: torch.Tensor) -> torch.Tensor:
        f = f - f.mean(0, keepdim=True)
        return f.T @ f / max(f.shape[0] - 1, 1)

    return ((cov(fs) - cov(ft)) ** 2).sum() / (4 * d * d)


def gaussian_kernel(
    x: torch.Tensor, n_kernels: int = 5, mul: float = 2.0, sigma: float | None = None
) -> torch.Tensor:
    """Sum of Gaussian kernels over all pairs of rows of ``x`` (source rows, then target).

    Bandwidths ``base * mul^(k - n/2)``, ``base`` = mean pairwise squared distance (detached),
    as in DAN/JAN; ``sigma`` fixes a single bandwidth instead (JAN's prediction kernel).
    All bandwidths go through one ``exp`` (few kernel launches: the step stays cheap).
    """
    sq = (x * x).sum(1)
    d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * (x @ x.T)).clamp(min=0)
    if sigma is not None:
        return torch.exp(-d2 / sigma)
    n = x.shape[0]
    base = d2.detach().sum() / max(n * n - n, 1)
    base = base.clamp(min=1e-8) / (mul ** (n_kernels // 2))
    inv = 1.0 / (base * mul ** torch.arange(n_kernels, device=x.device, dtype=x.dtype))
    return torch.exp(-d2.unsqueeze(0) * inv.view(-1, 1, 1)).sum(0)


def _mmd_from_kernel(k: torch.Tensor, ns: int) -> torch.Tensor:
    """Biased MMD^2 ``mean(Kss) + mean(Ktt) - 2 mean(Kst)`` as one quadratic form ``w'Kw``
    (``w`` = 1/ns on source rows, -1/nt on target rows): cheaper to back-propagate than
    three sliced means."""
    nt = k.shape[0] - ns
    w = _domain_labels(ns, nt, k.device, k.dtype) * (1.0 / ns + 1.0 / nt) - 1.0 / nt
    return w @ k @ w


def mmd_loss(fs: torch.Tensor, ft: torch.Tensor, n_kernels: int = 5) -> torch.Tensor:
    """Multi-kernel MMD^2 (biased estimate) between source and target features."""
    return _mmd_from_kernel(gaussian_kernel(torch.cat([fs, ft]), n_kernels), fs.shape[0])


def jmmd_loss(
    fs: torch.Tensor, ft: torch.Tensor, ps: torch.Tensor, pt: torch.Tensor, n_kernels: int = 5
) -> torch.Tensor:
    """Joint MMD: product of a multi-kernel on features and a Gaussian on probabilities."""
    k = gaussian_kernel(torch.cat([fs, ft]), n_kernels) * gaussian_kernel(
        torch.cat([ps, pt]), sigma=1.68
    )
    return _mmd_from_kernel(k, fs.shape[0])


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Per-row Shannon entropy (nats) of probabilities ``p``."""
    return -(p * torch.log(p.clamp(min=1e-8))).sum(1)


class DomainDiscriminator(nn.Module):
    """Two hidden layers -> one logit (source = 1, target = 0)."""

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class CdanMap(nn.Module):
    """Multilinear map ``f (x) p``; a fixed random projection when ``F x k`` exceeds ``dim``."""

    rf: torch.Tensor  # buffers (random projection only)
    rp: torch.Tensor

    def __init__(self, n_features: int, n_classes: int, dim: int) -> None:
        super().__init__()
        self.random = n_features * n_classes > dim
        self.out_features = dim if self.random else n_features * n_classes
        if self.random:
            g = torch.Generator().manual_seed(0)
            self.register_buffer("rf", torch.randn(n_features, dim, generator=g))
            self.register_buffer("rp", torch.randn(n_classes, dim, generator=g))

    def forward(self, f: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if self.random:
            return (f @ self.rf) * (p @ self.rp) / math.sqrt(self.out_features)
        return torch.bmm(p.unsqueeze(2), f.unsqueeze(1)).flatten(1)


def _domain_bce(logits: torch.Tensor, ns: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    labels = _domain_labels(ns, logits.shape[0] - ns, logits.device, logits.dtype)
    if weights is None:
        return F.binary_cross_entropy_with_logits(logits, labels)
    return (weights * F.binary_cross_entropy_with_logits(logits, labels, reduction="none")).sum()


_LABELS: dict[tuple, torch.Tensor] = {}


def _domain_labels(ns: int, nt: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """1 for the ``ns`` source rows, 0 for the ``nt`` target rows (cached: no per-step fill)."""
    key = (ns, nt, str(device), dtype)
    if key not in _LABELS:
        if len(_LABELS) > 64:
            _LABELS.clear()
        _LABELS[key] = torch.cat(
            [
                torch.ones(ns, device=device, dtype=dtype),
                torch.zeros(nt, device=device, dtype=dtype),
            ]
        )
    return _LABELS[key]


def _cdan_weights(p: torch.Tensor, ns: int) -> torch.Tensor:
    """CDAN+E: ``1 + exp(-H(p))`` per window, normalised to sum 1/2 within each domain."""
    w = 1.0 + torch.exp(-entropy(p))
    ws, wt = w[:ns], w[ns:]
    return torch.cat([ws / ws.sum(), wt / wt.sum()]) / 2


# --- the adapter: target batches + loss, driven by the training engine ---------------------


class FeatureNet(Protocol):
    """What adaptation needs of a network: its pooled features and its task logits."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


#: method -> loss(adapter, feats_s, feats_t, logits_s, logits_t, coeff)
LossFn = Callable[
    ["Adapter", torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor
]


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, dim=1)


def _adversarial(a: Adapter, fs, ft, ls, lt, coeff: float) -> torch.Tensor:
    disc, cdan_map = a.discriminator, a.cdan_map
    assert disc is not None  # Adapter builds one for every adversarial method
    f = torch.cat([fs, ft])
    ns = fs.shape[0]
    if a.method == "dann":
        return _domain_bce(disc(grad_reverse(f, coeff)), ns)
    assert cdan_map is not None  # cdan, cdan+e
    p = _probs(torch.cat([ls, lt])).detach()
    logits = disc(grad_reverse(cdan_map(f, p), coeff))
    return _domain_bce(logits, ns, _cdan_weights(p, ns) if a.method == "cdan+e" else None)


LOSSES: dict[str, LossFn] = {
    "coral": lambda a, fs, ft, ls, lt, c: coral_loss(fs, ft),
    "mmd": lambda a, fs, ft, ls, lt, c: mmd_loss(fs, ft, a.cfg.kernels),
    "jmmd": lambda a, fs, ft, ls, lt, c: jmmd_loss(fs, ft, _probs(ls), _probs(lt), a.cfg.kernels),
    "dann": _adversarial,
    "cdan": _adversarial,
    "cdan+e": _adversarial,
}


class Adapter(nn.Module):
    """Draws target batches and returns the adaptation loss for each training step.

    ``net`` must offer ``forward_features(x) -> (features [B, F], task -> logits)``; the
    first task's logits are the predictions JMMD/CDAN condition on. Its own parameters (the
    domain discriminator) are optimised with the network's.
    """

    def __init__(
        self,
        cfg: AdaptationConfig,
        target: UnlabelledWindows,
        n_features: int,
        n_classes: int,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(target, UnlabelledWindows):
            raise TypeError(
                f"Adapter takes UnlabelledWindows (target X only), not {type(target).__name__}"
            )
        if len(target) < 2:
            raise ConfigError(f"adaptation needs at least 2 target windows, got {len(target)}")
        self.cfg = cfg
        self.method = cfg.method
        self._X_cpu = torch.from_numpy(np.ascontiguousarray(target.X, dtype=np.float32))
        self.X = self._X_cpu
        self.discriminator: nn.Module | None = None
        self.cdan_map: CdanMap | None = None
        with torch.random.fork_rng(devices=[]):  # same seed -> same discriminator
            torch.manual_seed(int(seed) + 104729)
            if self.method == "dann":
                self.discriminator = DomainDiscriminator(n_features, cfg.hidden)
            elif self.method in ("cdan", "cdan+e"):
                self.cdan_map = CdanMap(n_features, n_classes, cfg.cdan_dim)
                self.discriminator = DomainDiscriminator(self.cdan_map.out_features, cfg.hidden)
        self.steps = 0
        self.total_steps = 1
        self.gen = torch.Generator()
        self._loss_sum: torch.Tensor | float = 0.0  # on the device: no sync per step
        self._loss_n = 0

    @property
    def trains(self) -> bool:
        """Whether the training step itself changes (false for none/adabn)."""
        return self.method in STEP_METHODS

    def prepare(self, device: torch.device, total_steps: int, seed: int) -> None:
        self.move(device)
        self.total_steps = max(1, int(total_steps))
        self.gen.manual_seed(int(seed) + 7919)

    def move(self, device: torch.device) -> None:
        self.to(device)
        self.X = self._X_cpu.to(device) if device.type != "cpu" else self._X_cpu

    def coefficient(self) -> float:
        p = self.steps / self.total_steps
        return progress_factor(p) if self.cfg.schedule == "dann" else 1.0

    def target_batch(self, size: int, device: torch.device) -> torch.Tensor:
        idx = torch.randint(0, len(self.X), (size,), generator=self.gen)
        return self.X.index_select(0, idx.to(self.X.device)).to(device, non_blocking=True)

    def forward_step(
        self, net: nn.Module, xs: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One joint forward of a source and a target batch: (source logits, weighted loss)."""
        ns = xs.shape[0]
        xt = self.target_batch(ns, xs.device)
        # the engine adapts only networks that expose their features (models' FaultNet)
        feats, out = cast(FeatureNet, net).forward_features(torch.cat([xs, xt]))
        task = next(iter(out))
        feats = feats.float()
        logits = out[task].float()
        coeff = self.coefficient()
        loss = LOSSES[self.method](self, feats[:ns], feats[ns:], logits[:ns], logits[ns:], coeff)
        scale = self.cfg.weight if self.method in ADVERSARIAL else self.cfg.weight * coeff
        self.steps += 1
        self._loss_sum = self._loss_sum + loss.detach().double()
        self._loss_n += 1
        return {t: o[:ns] for t, o in out.items()}, scale * loss

    def epoch_metrics(self, net: nn.Module, batch_size: int) -> dict[str, float]:
        """History columns: mean adaptation loss, coefficient, and the label-free target score."""
        row: dict[str, float] = {}
        if self._loss_n:
            row["adapt_loss"] = float(self._loss_sum) / self._loss_n
            row["adapt_coeff"] = self.coefficient()
        self._loss_sum, self._loss_n = 0.0, 0
        if self.cfg.selection == "target_entropy":
            row["target_entropy"] = self.target_entropy(net, batch_size)
        return row

    @torch.no_grad()
    def target_probs(self, net: nn.Module, batch_size: int) -> torch.Tensor:
        was_training = net.training
        net.eval()
        dev = next(net.parameters()).device
        parts = []
        for i in range(0, len(self.X), batch_size):
            out = net(self.X[i : i + batch_size].to(dev))
            parts.append(_probs(next(iter(out.values())).float()))
        net.train(was_training)
        return torch.cat(parts)

    def target_entropy(self, net: nn.Module, batch_size: int) -> float:
        """Mean prediction entropy minus entropy of the mean prediction (lower is better).

        The second term penalises collapse onto one class, which plain entropy rewards.
        """
        p = self.target_probs(net, batch_size)
        return float(entropy(p).mean() - entropy(p.mean(0, keepdim=True))[0])

    @torch.no_grad()
    def finish(self, net: nn.Module, batch_size: int) -> str | None:
        """AdaBN: re-estimate every BatchNorm's statistics on the target windows."""
        if self.method != "adabn":
            return None
        bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not bns:
            return "adabn: the network has no BatchNorm layer, so AdaBN changed nothing"
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all target batches
        net.eval()
        for m in bns:
            m.train()
        dev = next(net.parameters()).device
        for i in range(0, len(self.X), batch_size):
            xb = self.X[i : i + batch_size]
            if len(xb) >= 2:
                net(xb.to(dev))
        for m, mom in zip(bns, saved):
            m.momentum = mom
        net.eval()
        return f"adabn: BatchNorm statistics of {len(bns)} layer(s) re-estimated on {len(self.X)} target windows"

    def extra_state(self) -> dict[str, Any]:
        return {"steps": self.steps, "gen": self.gen.get_state(), "params": self.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.gen.set_state(state["gen"])
        self.load_state_dict(state["params"])


def describe_adaptation(cfg: AdaptationConfig) -> str:
    """One line for reports: method, weight/schedule and how weights were selected."""
    sel = {
        "last": "last epoch",
        "source_val": "best source-validation loss",
        "target_entropy": "lowest target prediction entropy (label-free)",
    }[cfg.selection]
    if cfg.method == "none":
        return f"domain adaptation: none (source-only); model selection: {sel}"
    sched = "DANN progress schedule" if cfg.schedule == "dann" else "constant"
    return (
        f"domain adaptation: {METHODS[cfg.method]}; weight {cfg.weight:g} ({sched}); "
        f"model selection: {sel}; target labels never read"
    )
