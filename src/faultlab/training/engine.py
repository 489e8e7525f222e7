"""The torch training loop every deep model uses (via ``training.fit.fit_model``).

Why hand-written rather than a DataLoader: windows are already one contiguous float32 array,
so a batch is one index-tensor gather (``X[perm[i:i+b]]``) - no per-item ``__getitem__``
calls, no worker processes. Windows larger than memory live in an on-disk store
(:class:`faultlab.data.store.WindowArray`): a batch is then a few positioned reads from its
file, in the same shuffled order, so only a batch is ever resident. The loop adds what
experiments need: LR schedules, early stopping with best-weight restore, gradient clipping,
AMP on CUDA, a wall-clock budget,
exact resume from ``checkpoint.pt`` (model, optimizer, scheduler, RNG states, history),
per-epoch history with the data-pipeline share of the time, and a progress bar.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from faultlab.contracts import CHECKPOINT, FitResult
from faultlab.data.store import WindowArray
from faultlab.errors import ConfigError
from faultlab.training.adaptation import Adapter
from faultlab.training.augment import Augmenter, augment_batch
from faultlab.training.callbacks import EarlyStopping, EpochCallback
from faultlab.training.config import AugmentConfig, TrainConfig
from faultlab.training.device import Precision, choose_precision, resolve_device, set_threads
from faultlab.training.seed import get_rng_state, seed_everything, set_rng_state
from faultlab.utils.io import atomic_path, set_aside

CHECKPOINT_NAME = CHECKPOINT
#: Whole arrays up to this size are moved to the accelerator once; larger ones per batch.
_ON_DEVICE_BYTES = 2 * 1024**3

__all__ = ["CHECKPOINT_NAME", "EngineResult", "Trainer", "augment_batch", "load_checkpoint"]

LossFn = Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor]], torch.Tensor]


@dataclass
class EngineResult(FitResult):
    """The model contract's FitResult plus the time spent building batches."""

    data_seconds: float = 0.0


@dataclass
class _EpochPass:
    """One training pass: the row so far, ``completed`` | ``non_finite_loss`` |
    ``out_of_time``, the last batch index reached, its start time and data-loading seconds."""

    row: dict[str, float]
    status: str
    last_batch: int
    started: float
    data_seconds: float


@dataclass
class _Data:
    """Contiguous tensors (on the device when they fit) indexed by batches of positions;
    or windows in an on-disk store, read batch by batch."""

    X: torch.Tensor | WindowArray
    y: dict[str, torch.Tensor]

    @classmethod
    def from_arrays(cls, X: np.ndarray, y: dict[str, np.ndarray], device: torch.device) -> _Data:
        yt = {t: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for t, a in y.items()}
        if isinstance(X, WindowArray):
            return cls(X, {t: a.to(device) for t, a in yt.items()})
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        if device.type != "cpu" and Xt.numel() * 4 <= _ON_DEVICE_BYTES:
            Xt = Xt.to(device)
            yt = {t: a.to(device) for t, a in yt.items()}
        elif device.type == "cuda":
            Xt = Xt.pin_memory()
        return cls(Xt, yt)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def batch(
        self, idx: torch.Tensor, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if isinstance(self.X, WindowArray):
            xb = torch.from_numpy(self.X[idx.numpy()]).to(device, non_blocking=True)
            idx = idx.to(next(iter(self.y.values())).device)
        else:
            idx = idx.to(self.X.device)
            xb = self.X.index_select(0, idx).to(device, non_blocking=True)
        yb = {t: a.index_select(0, idx).to(device, non_blocking=True) for t, a in self.y.items()}
        return xb, yb

    def to(self, device: torch.device) -> _Data:
        X = self.X if isinstance(self.X, WindowArray) else self.X.to(device)
        return _Data(X, {t: a.to(device) for t, a in self.y.items()})


class _Meter:
    """Sums of loss and per-task correct/valid counts, kept on the device (no per-batch sync)."""

    def __init__(self, tasks: Sequence[str], device: torch.device) -> None:
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.n = 0
        self.correct = {t: torch.zeros((), dtype=torch.int64, device=device) for t in tasks}
        self.valid = {t: torch.zeros((), dtype=torch.int64, device=device) for t in tasks}

    def add(
        self, loss: torch.Tensor, out: dict[str, torch.Tensor], y: dict[str, torch.Tensor]
    ) -> None:
        n = next(iter(y.values())).shape[0]
        self.loss += loss.detach().double() * n
        self.n += n
        for t, logits in out.items():
            ok = y[t] != -1
            self.correct[t] += ((logits.detach().argmax(1) == y[t]) & ok).sum()
            self.valid[t] += ok.sum()

    def values(self) -> dict[str, float]:
        loss = float(self.loss) / max(self.n, 1)
        accs = {
            t: float(self.correct[t]) / int(self.valid[t])
            for t in self.correct
            if int(self.valid[t])
        }
        acc = float(np.mean(list(accs.values()))) if accs else math.nan
        out = {"loss": loss, "accuracy": acc}
        if len(self.correct) > 1:
            out.update({f"accuracy_{t}": a for t, a in accs.items()})
        return out


def _optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
    )


def _scheduler(
    opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> tuple[Any, str]:
    """(scheduler, when it steps: 'batch' | 'epoch' | 'none')."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total), "batch"
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total), "batch"
    if cfg.schedule == "plateau":
        mode = "max" if cfg.monitor.endswith("accuracy") else "min"
        patience = max(1, (cfg.patience or 4) // 2)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=0.5, patience=patience
        ), "epoch"
    return None, "none"


def _is_cudnn_error(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "cudnn" in str(exc).lower()


class CheckpointError(ConfigError):
    """A checkpoint that cannot be read safely (truncated, corrupt, or holding code)."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``: tensors and plain containers only.

    Run directories are shared between people, so a checkpoint is untrusted input: a pickle
    that would construct any other object (and so could run code) is refused, as is a
    truncated or empty file; both raise :class:`CheckpointError`.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, EOFError (0 bytes), RuntimeError (bad zip), ...
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise CheckpointError(
            f"{path}: unreadable checkpoint ({type(exc).__name__}: {first})"
        ) from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
        raise CheckpointError(f"{path}: not a faultlab checkpoint")
    return ckpt


class Trainer:
    """One fit of ``net`` (returns task -> logits) under ``cfg``; see module docstring."""

    def __init__(
        self,
        net: nn.Module,
        loss_fn: LossFn,
        cfg: TrainConfig,
        run_dir: str | Path | None = None,
        callbacks: Sequence[EpochCallback] = (),
        adapter: Adapter | None = None,
    ) -> None:
        self.net = net
        self.adapter = adapter
        self.loss_fn = loss_fn
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks)
        self.notes: list[str] = []

    # -- one optimisation step, with the cuDNN fallback ------------------------------------
    def _step(
        self, xb: torch.Tensor, yb: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self.opt.zero_grad(set_to_none=True)
        with self.precision.autocast(self.device):
            if self.adapter is not None and self.adapter.trains:
                out, extra = self.adapter.forward_step(self.net, xb)
                loss = self.loss_fn({t: o.float() for t, o in out.items()}, yb) + extra
            else:
                out = self.net(xb)
                loss = self.loss_fn({t: o.float() for t, o in out.items()}, yb)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        return loss, out

    def _safe_step(self, xb, yb):
        try:
            return self._step(xb, yb), xb, yb
        except RuntimeError as exc:
            if not _is_cudnn_error(exc):
                raise
            first = torch.backends.cudnn.enabled
            if first:
                torch.backends.cudnn.enabled = False
                self.notes.append(
                    f"cuDNN kernel failed ({str(exc).splitlines()[0][:120]}); "
                    "trained with torch.backends.cudnn.enabled=False"
                )
                try:
                    return self._step(xb, yb), xb, yb
                except RuntimeError as exc2:
                    if not _is_cudnn_error(exc2) and self.device.type == "cpu":
                        raise
            if self.device.type == "cpu" or self.opt.state:
                raise
            # Still failing before any optimizer step: fall back to the CPU.
            self.notes.append(f"{self.device.type} training failed; fell back to CPU")
            self.device = torch.device("cpu")
            self.precision, self.scaler = Precision(False), None
            self.net.to(self.device)
            if self.adapter is not None:
                self.adapter.move(self.device)
            self.train_data = self.train_data.to(self.device)
            if self.val_data is not None:
                self.val_data = self.val_data.to(self.device)
            xb, yb = xb.cpu(), {t: a.cpu() for t, a in yb.items()}
            return self._step(xb, yb), xb, yb

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data: _Data, batch_size: int) -> dict[str, float]:
        self.net.eval()
        meter = _Meter(list(data.y), self.device)
        n = len(data)
        for i in range(0, n, batch_size):
            idx = torch.arange(i, min(i + batch_size, n))
            xb, yb = data.batch(idx, self.device)
            with self.precision.autocast(self.device):
                out = self.net(xb)
            out = {t: o.float() for t, o in out.items()}
            meter.add(self.loss_fn(out, yb), out, yb)
        return meter.values()

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint(self, epoch: int, history: list[dict[str, float]], stopped: str | None) -> None:
        if self.run_dir is None:
            return
        state = {
            "format": 1,
            "epoch": epoch,
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict() if self.sched is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "early_stopping": self.stopper.state_dict(),
            "history": history,
            "stopped_reason": stopped,
            "rng": get_rng_state(),
            "shuffle_rng": self.gen.get_state(),
            "augment_rng": self._augment_gen.get_state(),
            "config": self.cfg.model_dump(),
            "notes": list(self.notes),
            "adapter": self.adapter.extra_state() if self.adapter is not None else None,
        }
        with atomic_path(self.run_dir / CHECKPOINT_NAME) as tmp:
            torch.save(state, tmp)

    def _restore(self, ckpt: dict[str, Any]) -> tuple[int, list[dict[str, float]]]:
        self.net.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        if self.sched is not None and ckpt.get("scheduler") is not None:
            self.sched.load_state_dict(ckpt["scheduler"])
        if self.scaler is not None and ckpt.get("scaler") is not None:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.stopper.load_state_dict(ckpt["early_stopping"])
        set_rng_state(ckpt["rng"])
        self.gen.set_state(ckpt["shuffle_rng"])
        if self.adapter is not None and ckpt.get("adapter") is not None:
            self.adapter.load_extra_state(ckpt["adapter"])
        if ckpt.get("augment_rng") is not None:
            self._augment_gen.set_state(ckpt["augment_rng"])
        old = ckpt.get("config", {})
        if old.get("epochs") != self.cfg.epochs and self.cfg.schedule in ("onecycle", "cosine"):
            self.notes.append(
                f"resumed with epochs={self.cfg.epochs} (checkpoint had {old.get('epochs')}): "
                f"the {self.cfg.schedule} schedule keeps the checkpoint's length"
            )
        for n in ckpt.get("notes", []):
            if n not in self.notes:
                self.notes.append(n)
        return int(ckpt["epoch"]), list(ckpt["history"])

    # -- model selection (never on target labels) ----------------------------------------
    def _selection(self, has_val: bool) -> tuple[str, int | None]:
        """(monitored history column, early-stopping patience) for ``adaptation.selection``."""
        cfg = self.cfg
        selection = cfg.adaptation.selection
        if selection == "target_entropy":
            if self.adapter is None:
                raise ConfigError(
                    "training.adaptation.selection target_entropy needs unlabelled "
                    "target windows (a split with an adapt role)"
                )
            return "target_entropy", None
        if selection == "last":
            return "train_loss", None
        if not has_val and cfg.patience is not None:
            self.notes.append("no validation set: early stopping off, final weights kept")
        return (cfg.monitor if has_val else "train_loss"), (cfg.patience if has_val else None)

    def _restore_selected(self, monitor: str, history: list[dict[str, float]]) -> int | None:
        """Load the selected weights: best monitored epoch, or the last one."""
        selection = self.cfg.adaptation.selection
        last = int(history[-1]["epoch"]) if history else None
        if selection == "last":
            return last
        restore = self.val_data is not None or selection == "target_entropy"
        best_epoch = self.stopper.best_epoch
        if restore and self.stopper.best_state is not None:
            self.net.load_state_dict(self.stopper.best_state)
            if best_epoch != last:
                self.notes.append(f"restored best weights from epoch {best_epoch} ({monitor})")
        return best_epoch

    def _resume(self, ckpt_path: Path | None) -> tuple[int, list[dict[str, float]], str]:
        """(start epoch, history, stopped reason) from ``ckpt_path``, or a fresh start.

        An unreadable or mismatched checkpoint is kept aside as ``checkpoint.pt.corrupt`` and
        training starts from scratch, saying so (a note, and a line on stderr).
        """
        if ckpt_path is None or not ckpt_path.exists():
            self.notes.append("resume requested but no checkpoint found: trained from scratch")
            return 0, [], "completed"
        try:
            ckpt = load_checkpoint(ckpt_path)
            start_epoch, history = self._restore(ckpt)
        except (CheckpointError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            kept = set_aside(ckpt_path)
            msg = (
                f"checkpoint not used ({' '.join(str(exc).split())[:240]}); kept as "
                f"{kept.name if kept else ckpt_path.name}, trained from scratch"
            )
            self.notes.append(msg)
            print(f"warning: {ckpt_path.parent}: {msg}", file=sys.stderr)
            self.net.load_state_dict(self._initial_state)
            self.opt = _optimizer(self._params, self.cfg)
            self.sched, _ = _scheduler(self.opt, self.cfg, self._n_batches)
            self.stopper = EarlyStopping(
                self.stopper.monitor, self.stopper.patience, self.cfg.min_delta
            )
            self.gen = torch.Generator().manual_seed(self.cfg.seed)
            self._augment_gen.manual_seed(self.cfg.seed + 7919)
            seed_everything(self.cfg.seed, self.cfg.deterministic)
            return 0, [], "completed"
        self.notes.append(f"resumed from {ckpt_path.name} after epoch {start_epoch}")
        prev = ckpt.get("stopped_reason")
        if prev == "early_stopping":  # nothing left to do: patience already ran out
            return self.cfg.epochs, history, prev
        return start_epoch, history, "completed"

    # -- the loop ----------------------------------------------------------------------------
    def _setup(
        self,
        X: np.ndarray,
        y: dict[str, np.ndarray],
        X_val: np.ndarray | None,
        y_val: dict[str, np.ndarray] | None,
    ) -> tuple[str, int, int, str]:
        """Device, data, optimiser, schedule, stopper and RNG streams for one ``fit``:
        (monitored column, batch size, batches per epoch, when the scheduler steps)."""
        cfg = self.cfg
        set_threads(cfg.num_threads)
        seed_everything(cfg.seed, cfg.deterministic)
        self.device = resolve_device(cfg.device)
        self.precision = choose_precision(self.device, cfg.amp)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision.needs_scaler else None
        self.net.to(self.device)

        if len(X) < 2:
            raise ConfigError(f"training needs at least 2 windows, got {len(X)}")
        self.train_data = _Data.from_arrays(X, y, self.device)
        self.val_data = None
        if X_val is not None and y_val is not None and len(X_val) > 0:
            self.val_data = _Data.from_arrays(X_val, y_val, self.device)
        has_val = self.val_data is not None
        monitor, patience = self._selection(has_val)

        bs = min(cfg.batch_size, len(X))
        n = len(X)
        n_batches = n // bs + (1 if n % bs >= 2 else 0)  # a 1-sample tail breaks BatchNorm: drop it
        self._initial_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self._n_batches = n_batches
        params = list(self.net.parameters())
        if self.adapter is not None:
            self.adapter.prepare(self.device, cfg.epochs * n_batches, cfg.seed)
            params += list(self.adapter.parameters())
        self._params = params
        self.opt = _optimizer(params, cfg)
        self.sched, sched_when = _scheduler(self.opt, cfg, n_batches)
        self.stopper = EarlyStopping(monitor, patience, cfg.min_delta)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        # its own stream, so switching augmentations on does not change the batch order
        aug = cfg.augmentation() if cfg.augment != "auto" else AugmentConfig()
        self._augment_gen = torch.Generator().manual_seed(cfg.seed + 7919)
        self.augment = Augmenter(aug, self._augment_gen)
        return monitor, bs, n_batches, sched_when

    def _train_epoch(
        self,
        epoch: int,
        tasks: list[str],
        bs: int,
        n_batches: int,
        sched_when: str,
        deadline: float | None,
    ) -> _EpochPass:
        """One pass over the shuffled training windows."""
        from tqdm.auto import tqdm

        cfg = self.cfg
        t0 = time.perf_counter()
        data_s = 0.0
        meter = _Meter(tasks, self.device)
        perm = torch.randperm(len(self.train_data), generator=self.gen)
        bar = tqdm(
            total=n_batches,
            desc=f"epoch {epoch}/{cfg.epochs}",
            leave=False,
            disable=not cfg.progress,
            unit="batch",
        )
        status, b = "completed", 0
        for b in range(n_batches):
            td = time.perf_counter()
            xb, yb = self.train_data.batch(perm[b * bs : (b + 1) * bs], self.device)
            xb = self.augment(xb)
            data_s += time.perf_counter() - td
            (loss, out), xb, yb = self._safe_step(xb, yb)
            if not torch.isfinite(loss):
                self.notes.append(f"non-finite loss at epoch {epoch}, batch {b}: stopped")
                status = "non_finite_loss"
                break
            meter.add(loss, out, yb)
            if sched_when == "batch":
                self.sched.step()
            if cfg.progress and (b % 10 == 9 or b == n_batches - 1):
                v = meter.values()
                bar.set_postfix(loss=f"{v['loss']:.4f}", acc=f"{v['accuracy']:.3f}")
            bar.update(1)
            if deadline is not None and time.perf_counter() > deadline:
                status = "out_of_time"
                break
        bar.close()
        tr = meter.values()
        row: dict[str, float] = {
            "epoch": epoch,
            "train_loss": tr["loss"],
            "train_accuracy": tr["accuracy"],
        }
        row.update({f"train_{k}": v for k, v in tr.items() if k.startswith("accuracy_")})
        return _EpochPass(row, status, b, t0, data_s)

    def _epoch_row(self, ep: _EpochPass, bs: int) -> dict[str, float]:
        """The history row: training figures, validation, adaptation metrics, lr, seconds."""
        row = ep.row
        if self.val_data is not None:
            va = self.evaluate(self.val_data, max(bs, 256))
            row.update({f"val_{k}": v for k, v in va.items()})
        if self.adapter is not None:
            row.update(self.adapter.epoch_metrics(self.net, max(bs, 256)))
        row["lr"] = float(self.opt.param_groups[0]["lr"])
        row["seconds"] = time.perf_counter() - ep.started
        row["data_seconds"] = ep.data_seconds
        if ep.status == "out_of_time":
            row["partial"] = 1.0
        return row

    def _stop_reason(
        self,
        stopped: str,
        ep: _EpochPass,
        row: dict[str, float],
        monitor: str,
        sched_when: str,
        n_batches: int,
    ) -> str:
        """Step the stopper (and an epoch scheduler) on the monitored value; the reason to
        stop after this epoch (``completed`` = go on): the first of non-finite loss, early
        stopping, the time budget."""
        epoch = int(row["epoch"])
        value = row.get(monitor, row["train_loss"])
        patience_out = self.stopper.update(epoch, value, self.net)
        if sched_when == "epoch":
            self.sched.step(value)
        if stopped == "completed" and patience_out:
            stopped = "early_stopping"
        if stopped == "completed" and ep.status == "out_of_time":
            stopped = "time_budget"
            b = ep.last_batch
            self.notes.append(
                f"time budget {self.cfg.time_budget_s:g}s exceeded in epoch {epoch}"
                f"{' after batch ' + str(b + 1) + '/' + str(n_batches) if b + 1 < n_batches else ''}"
            )
        return stopped

    def fit(
        self,
        X: np.ndarray,
        y: dict[str, np.ndarray],
        X_val: np.ndarray | None = None,
        y_val: dict[str, np.ndarray] | None = None,
        resume: bool = False,
    ) -> EngineResult:
        cfg = self.cfg
        t_start = time.perf_counter()
        monitor, bs, n_batches, sched_when = self._setup(X, y, X_val, y_val)
        start_epoch, history = 0, []
        ckpt_path = self.run_dir / CHECKPOINT_NAME if self.run_dir is not None else None
        stopped = "completed"
        if resume:
            start_epoch, history, stopped = self._resume(ckpt_path)

        from tqdm.auto import tqdm

        data_total = 0.0
        deadline = t_start + cfg.time_budget_s if cfg.time_budget_s else None
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            self.net.train()
            ep = self._train_epoch(epoch, list(y), bs, n_batches, sched_when, deadline)
            if ep.status == "non_finite_loss":
                stopped = ep.status
            row = self._epoch_row(ep, bs)
            history.append(row)
            data_total += row["data_seconds"]

            stopped = self._stop_reason(stopped, ep, row, monitor, sched_when, n_batches)
            if cfg.progress:
                msg = " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch")
                tqdm.write(f"epoch {epoch}: {msg}")
            final = stopped != "completed" or epoch == cfg.epochs
            if final or epoch % cfg.checkpoint_every == 0:
                self._checkpoint(epoch, history, None if stopped == "completed" else stopped)
            stop_cb = False
            for cb in self.callbacks:
                stop_cb = bool(cb(epoch, row)) or stop_cb
            if stop_cb and stopped == "completed":
                stopped = "callback"
            if stopped != "completed":
                break

        best_epoch = self._restore_selected(monitor, history)
        if self.adapter is not None:
            note = self.adapter.finish(self.net, max(bs, 256))
            if note:
                self.notes.append(note)
        return EngineResult(
            history=history,
            epochs=int(history[-1]["epoch"]) if history else 0,
            best_epoch=best_epoch,
            train_seconds=time.perf_counter() - t_start,
            data_seconds=data_total,
            stopped_reason=stopped,
            device=f"{self.device.type} ({self.precision.label})",
            notes=list(self.notes),
        )
