"""Training-batch augmentations aimed at domain shift, vectorised over a ``[B, C, L]`` batch.

Why these: a deployed model meets another shaft speed, another sensor gain, another noise
floor and another structural resonance than the training rig had. Each op below simulates
one of those on the batch at once (no per-window loop), drawn per window with probability
``p`` from a seeded generator, so a run is reproducible and the engine can checkpoint the
generator. They are applied to training batches only; validation and test never see them.

- :func:`speed_jitter`: resample by a factor (linear interpolation via ``grid_sample``,
  reflected at the window's ends); frequencies scale by the factor. Content above
  ``Nyquist / factor`` folds back (no anti-alias filter: with jitter <= 0.1 only the top
  10 % of the band is affected, where bearing spectra carry little).
- :func:`amplitude`: a gain (sensor sensitivity, mounting, load).
- :func:`add_noise`: white noise at a given SNR over each channel's variance.
- :func:`circular_shift`: the window's phase relative to the shaft (a roll; wraps around).
- :func:`bandpass`: keep a random band (another resonance / sensor bandwidth), FFT mask.
- :func:`flip`: the sign (sensor orientation).

The pure ops take their random parameters as tensors (one value per window) so unit tests
can check what each does to a known signal; :class:`Augmenter` draws those parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from faultlab.training.config import AugmentConfig


def _col(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-window values ``[B]`` as ``[B, 1, 1]`` on ``x``'s device and dtype."""
    return v.to(device=x.device, dtype=x.dtype).reshape(-1, 1, 1)


def speed_jitter(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Window ``b`` read ``factor[b]`` times faster about its centre: ``y(t) = x(c + (t-c) f)``.

    A tone at frequency ``f0`` comes out at ``f0 * factor`` (what a shaft ``factor`` times
    faster would give). Samples read past either end are reflected back into the window.
    """
    b, c, length = x.shape
    t = torch.arange(length, device=x.device, dtype=x.dtype)
    centre = (length - 1) / 2
    pos = centre + (t[None, :] - centre) * factor.to(x.device, x.dtype)[:, None]  # [B, L]
    gx = 2 * pos / max(length - 1, 1) - 1
    grid = torch.stack([gx, torch.zeros_like(gx)], dim=-1)[:, None]  # [B, 1, L, 2]
    out = F.grid_sample(
        x[:, :, None, :], grid, mode="bilinear", padding_mode="reflection", align_corners=True
    )
    return out[:, :, 0, :]


def amplitude(x: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Window ``b`` times ``gain[b]``."""
    return x * _col(gain, x)


def add_noise(
    x: torch.Tensor, snr_db: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add white Gaussian noise at ``snr_db[b]`` dB below each channel's variance.

    ``inf`` dB adds nothing (how windows not drawn for this augmentation pass through).
    """
    power = x.var(dim=-1, keepdim=True, unbiased=False)
    scale = torch.sqrt(power / 10 ** (_col(snr_db, x) / 10))
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu")
    return x + scale * noise.to(x.device)


def circular_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Roll every channel of window ``b`` left by ``shift[b]`` samples (a gather, no loop)."""
    b, c, length = x.shape
    idx = torch.arange(length, device=x.device)[None, :] + shift.to(x.device).long()[:, None]
    # a window of the window repeated twice: cheaper than a modulo
    return torch.cat([x, x], dim=-1).gather(2, idx[:, None, :].expand(b, c, length))


def bandpass(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Keep frequencies in ``[low[b], high[b]]`` (fractions of Nyquist) of window ``b``.

    An FFT mask (brick wall): exact for tones on the FFT grid, some ringing otherwise;
    ``low = 0, high = 1`` passes the window through unchanged.
    """
    length = x.shape[-1]
    spec = torch.fft.rfft(x.float(), dim=-1)
    frac = torch.arange(spec.shape[-1], device=x.device, dtype=torch.float32) / (length / 2)
    lo, hi = _col(low, frac), _col(high, frac)
    keep = (frac >= lo) & (frac <= hi)
    return torch.fft.irfft(spec * keep, n=length, dim=-1).to(x.dtype)


def flip(x: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """Window ``b`` times ``sign[b]`` (+1 or -1)."""
    return x * _col(sign, x)


class Augmenter:
    """Draws each augmentation's parameters per window and applies the ops in a fixed order.

    Order: speed, band-pass, shift, gain, sign, noise (last, so the SNR is the one asked).
    Windows not drawn for an augmentation get its identity parameter (factor 1, gain 1,
    shift 0, the full band, SNR inf), so a batch is always processed in one pass.
    """

    def __init__(self, cfg: AugmentConfig, generator: torch.Generator | None = None) -> None:
        self.cfg = cfg
        self.gen = generator

    @property
    def active(self) -> list[str]:
        return self.cfg.active

    def _uniform(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.gen)

    def _drawn(self, n: int) -> torch.Tensor:
        """Which of ``n`` windows get an augmentation (probability ``p`` each)."""
        return torch.rand(n, generator=self.gen) < self.cfg.p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        cfg, n = self.cfg, x.shape[0]
        if not self.active or n == 0:
            return x
        if cfg.speed_jitter > 0:
            f = self._uniform(n, 1 - cfg.speed_jitter, 1 + cfg.speed_jitter)
            x = speed_jitter(x, torch.where(self._drawn(n), f, torch.ones(n)))
        if cfg.bandpass is not None:
            on = self._drawn(n)
            lo = self._uniform(n, *cfg.bandpass.low)
            hi = self._uniform(n, *cfg.bandpass.high)
            x = bandpass(x, torch.where(on, lo, 0.0), torch.where(on, hi, 1.0))
        if cfg.shift:
            k = torch.randint(0, x.shape[-1], (n,), generator=self.gen)
            x = circular_shift(x, torch.where(self._drawn(n), k, 0))
        if cfg.amplitude is not None:
            a, b = (math.log(v) for v in cfg.amplitude)
            g = torch.exp(self._uniform(n, a, b))
            x = amplitude(x, torch.where(self._drawn(n), g, torch.ones(n)))
        if cfg.flip:
            s = torch.randint(0, 2, (n,), generator=self.gen).float() * 2 - 1
            x = flip(x, torch.where(self._drawn(n), s, torch.ones(n)))
        if cfg.noise_snr_db is not None:
            snr = self._uniform(n, *cfg.noise_snr_db)
            x = add_noise(x, torch.where(self._drawn(n), snr, math.inf), self.gen)
        return x


def augmentation_text(cfg: AugmentConfig) -> str:
    """One line for notes and reports, e.g. ``shift, noise 10-40 dB (p=0.5)``."""
    parts = []
    if cfg.speed_jitter > 0:
        parts.append(f"speed x{1 - cfg.speed_jitter:g}-{1 + cfg.speed_jitter:g}")
    if cfg.amplitude is not None:
        parts.append(f"gain {cfg.amplitude[0]:g}-{cfg.amplitude[1]:g}")
    if cfg.noise_snr_db is not None:
        parts.append(f"noise {cfg.noise_snr_db[0]:g}-{cfg.noise_snr_db[1]:g} dB SNR")
    if cfg.shift:
        parts.append("shift")
    if cfg.flip:
        parts.append("flip")
    if cfg.bandpass is not None:
        b = cfg.bandpass
        parts.append(
            f"band-pass low {b.low[0]:g}-{b.low[1]:g}, high {b.high[0]:g}-{b.high[1]:g} x Nyquist"
        )
    if not parts or cfg.p == 0:
        return "none"
    return ", ".join(parts) + ("" if cfg.p == 1 else f" (each with p={cfg.p:g})")


def augment_batch(
    x: torch.Tensor,
    kinds: AugmentConfig | Sequence[str] | str,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One-call form: ``kinds`` is an AugmentConfig or the list form (``"auto"``: none)."""
    if isinstance(kinds, AugmentConfig):
        return Augmenter(kinds, generator)(x)
    if isinstance(kinds, str) or not kinds:
        return x
    return Augmenter(AugmentConfig.from_names(list(kinds)), generator)(x)
