"""Device choice (CUDA -> MPS -> CPU) and mixed precision, decided once per fit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from faultlab.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then CPU; an explicit name must be available."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"training.device: unknown device {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"training.device: {name!r} requested but CUDA is not available")
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(f"training.device: {name!r} requested but MPS is not available")
    return dev


@dataclass
class Precision:
    """Autocast settings: bf16 where the GPU supports it (no scaler needed), else fp16 + scaler."""

    enabled: bool
    dtype: torch.dtype = torch.float32

    @property
    def needs_scaler(self) -> bool:
        return self.enabled and self.dtype == torch.float16

    @property
    def label(self) -> str:
        return (
            {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "fp32")
            if self.enabled
            else "fp32"
        )

    @contextlib.contextmanager
    def autocast(self, device: torch.device) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with torch.autocast(device_type=device.type, dtype=self.dtype):
            yield


def choose_precision(device: torch.device, amp: bool) -> Precision:
    """AMP only on CUDA: CPU autocast is slower than fp32 on most CPUs, MPS support is partial."""
    if not amp or device.type != "cuda":
        return Precision(False)
    if torch.cuda.is_bf16_supported():
        return Precision(True, torch.bfloat16)
    return Precision(True, torch.float16)


def set_threads(num_threads: int | None) -> None:
    if num_threads:
        torch.set_num_threads(int(num_threads))
