"""Spectral front end for sequence models: a log-magnitude short-time Fourier transform.

Fault signatures in bearing vibration are spectral (resonance bands excited by impacts) and
those bands move little with motor load, whereas raw-sample chunks also encode phase and
amplitude detail that does not transfer across loads. The DFT is a *fixed* ``Conv1d``
(cosine and sine kernels of ``frame`` samples times a Hann window, stride ``hop``) rather
than ``torch.stft`` so the network exports unchanged to ONNX and TorchScript.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def n_frames(length: int, frame: int, hop: int) -> int:
    return 0 if length < frame else (length - frame) // hop + 1


class LogSTFT(nn.Module):
    """``[B, C, L]`` -> ``[B, T, C * (frame // 2 + 1)]`` log-magnitude frames.

    ``log``: ``log1p`` of the magnitude, or ``power`` = ``log(|X|^2 + eps)``.
    ``norm``: ``batch`` = BatchNorm1d per (channel, frequency) feature (learned affine), or
    ``none``. ``standardise``: z-score every window (per channel) before the transform, so
    the spectrum's overall level, which shifts with motor load, does not decide the class
    (on CWRU leave-one-load-out this lifts the worst fold from ~86 % to ~99.7 %).
    Kernels are buffers, not parameters: the transform never trains.
    """

    kernels: torch.Tensor

    def __init__(
        self,
        in_ch: int,
        frame: int,
        hop: int,
        log: str = "log1p",
        norm: str = "batch",
        standardise: bool = True,
    ) -> None:
        super().__init__()
        self.in_ch, self.frame, self.hop, self.log = int(in_ch), int(frame), int(hop), log
        self.standardise = bool(standardise)
        self.bins = self.frame // 2 + 1
        n = np.arange(self.frame)
        k = np.arange(self.bins)[:, None]
        window = np.hanning(self.frame + 1)[:-1] if self.frame > 1 else np.ones(1)  # periodic Hann
        ang = 2 * math.pi * k * n[None, :] / self.frame
        kernels = np.concatenate([np.cos(ang) * window, -np.sin(ang) * window])  # [2*bins, frame]
        self.register_buffer("kernels", torch.tensor(kernels[:, None, :], dtype=torch.float32))
        self.features = self.in_ch * self.bins
        self.norm = nn.BatchNorm1d(self.features) if norm == "batch" else nn.Identity()

    def power(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L]`` -> ``|DFT|^2`` of every windowed frame, ``[B, C * bins, T]``."""
        b, c, length = x.shape
        if self.standardise:
            x = (x - x.mean(dim=-1, keepdim=True)) / x.std(dim=-1, keepdim=True).clamp(min=1e-8)
        spec = nn.functional.conv1d(x.reshape(b * c, 1, length), self.kernels, stride=self.hop)
        re, im = spec[:, : self.bins], spec[:, self.bins :]
        return (re * re + im * im).reshape(b, c * self.bins, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = self.power(x)
        if self.log == "power":
            h = torch.log(power + 1e-6)
        else:
            h = torch.log1p(torch.sqrt(power + 1e-12))
        return self.norm(h).transpose(1, 2)


class Spectrum(nn.Module):
    """``[B, C, L]`` -> ``[B, C, L // 2]`` one-sided magnitude spectrum of each whole window.

    The UDTL benchmark's (Zhao et al. 2021) strongest CWRU input: a bearing fault's resonance
    bands and lines move little with motor load, whereas the raw samples' phase and amplitude
    detail do not transfer, so a CNN on the spectrum adapts across loads more easily.
    ``|DFT| / L`` of bins ``0 .. L/2 - 1`` (the Nyquist bin dropped, as UDTL does), then
    ``log``: ``none``, ``log1p`` or ``log`` (``log(|X| + 1e-4)``: decibel-like); ``norm``: ``window`` z-scores each spectrum (UDTL's
    per-sample mean-std), ``none`` keeps levels. The DFT is a fixed matrix product (a buffer,
    never trained) rather than ``torch.fft`` so the network exports unchanged to ONNX.
    """

    kernels: torch.Tensor

    def __init__(self, length: int, log: str = "none", norm: str = "window") -> None:
        super().__init__()
        self.length, self.log, self.norm = int(length), log, norm
        self.bins = max(1, self.length // 2)
        n = np.arange(self.length)
        k = np.arange(self.bins)[:, None]
        ang = 2 * math.pi * k * n[None, :] / self.length
        kernels = np.concatenate([np.cos(ang), -np.sin(ang)]) / self.length  # [2*bins, L]
        self.register_buffer("kernels", torch.tensor(kernels.T, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = x @ self.kernels  # [B, C, 2*bins]
        re, im = spec[..., : self.bins], spec[..., self.bins :]
        h = torch.sqrt(re * re + im * im + 1e-12)
        if self.log == "log1p":
            h = torch.log1p(h)
        elif self.log == "log":
            h = torch.log(h + 1e-4)
        if self.norm == "window":
            mu = h.mean(dim=-1, keepdim=True)
            h = (h - mu) / h.std(dim=-1, keepdim=True).clamp(min=1e-8)
        return h
