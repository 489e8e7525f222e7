"""Training configuration: what every model carries (``model.json`` keeps it) and what the
loop in :mod:`faultlab.training` reads.

It lives on the bottom floor because a model needs it (its seed fixes the initial weights,
``class_weights``/``label_smoothing`` shape its loss, a saved model restores it) while the
loop that reads the rest sits above the models; :mod:`faultlab.training.config` re-exports it.
Pure pydantic, no torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The short augmentation names of the list form (``augment: [shift, scale]``).
AugmentName = Literal["shift", "scale", "noise", "flip"]


class BandpassConfig(BaseModel):
    """Random band-pass: keep ``[low, high]`` (fractions of Nyquist, each drawn uniformly).

    Fractions, not Hz, so the same config means the same thing at any sampling rate.
    """

    model_config = ConfigDict(extra="forbid")

    low: tuple[float, float] = Field(
        default=(0.0, 0.2), description="range the lower edge is drawn from"
    )
    high: tuple[float, float] = Field(
        default=(0.5, 1.0), description="range the upper edge is drawn from"
    )

    @model_validator(mode="after")
    def _check(self) -> BandpassConfig:
        for key, (a, b) in (("low", self.low), ("high", self.high)):
            if not 0 <= a <= b <= 1:
                raise ValueError(f"bandpass.{key} must be 0 <= a <= b <= 1, got [{a}, {b}]")
        if self.low[1] >= self.high[0]:
            raise ValueError(
                f"bandpass: low's upper end {self.low[1]} must be below high's lower end "
                f"{self.high[0]} (an empty band keeps nothing)"
            )
        return self


class AugmentConfig(BaseModel):
    """Training-batch augmentations aimed at domain shift (never applied to val/test).

    Each augmentation is drawn per window with probability ``p`` (``shift`` and ``flip``
    too), from the training seed, so a run is reproducible.
    speed_jitter: resample by a factor in ``[1 - j, 1 + j]`` (a sine at f becomes one at f x
    factor: the machine ran that much faster or slower); amplitude: gain drawn log-uniformly
    in ``[a, b]``; noise_snr_db: white noise at an SNR drawn uniformly in ``[a, b]`` dB
    (relative to each channel's power); shift: random circular time shift; flip: sign flip;
    bandpass: random band-pass (see :class:`BandpassConfig`).
    """

    model_config = ConfigDict(extra="forbid")

    speed_jitter: float = Field(default=0.0, ge=0, lt=0.5)
    amplitude: tuple[float, float] | None = None
    noise_snr_db: tuple[float, float] | None = None
    shift: bool = False
    flip: bool = False
    bandpass: BandpassConfig | None = None
    p: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> AugmentConfig:
        if self.amplitude is not None and not 0 < self.amplitude[0] <= self.amplitude[1]:
            raise ValueError(f"amplitude must be 0 < a <= b, got {list(self.amplitude)}")
        if self.noise_snr_db is not None and self.noise_snr_db[0] > self.noise_snr_db[1]:
            raise ValueError(f"noise_snr_db must be [low, high], got {list(self.noise_snr_db)}")
        return self

    @classmethod
    def from_names(cls, names: list[str]) -> AugmentConfig:
        """The list form: every named augmentation on every window (``p = 1``)."""
        return cls(
            shift="shift" in names,
            flip="flip" in names,
            amplitude=(0.8, 1.25) if "scale" in names else None,
            noise_snr_db=(26.0, 26.0) if "noise" in names else None,  # noise at 5 % of std
            p=1.0,
        )

    @property
    def active(self) -> list[str]:
        """Names of the augmentations switched on (for notes and reports)."""
        on = {
            "speed_jitter": self.speed_jitter > 0,
            "amplitude": self.amplitude is not None,
            "noise": self.noise_snr_db is not None,
            "shift": self.shift,
            "flip": self.flip,
            "bandpass": self.bandpass is not None,
        }
        return [k for k, v in on.items() if v and self.p > 0]


#: Unsupervised domain-adaptation methods (see :mod:`faultlab.training.adaptation`).
ADAPTATION_METHODS = ("none", "adabn", "coral", "mmd", "jmmd", "dann", "cdan", "cdan+e")


class AdaptationConfig(BaseModel):
    """Unsupervised domain adaptation to unlabelled target windows (deep models only).

    ``method``: none (source-only), adabn (target BatchNorm statistics after training),
    coral (Deep CORAL), mmd (multi-kernel MMD, DAN), jmmd (joint MMD on features and
    predictions, JAN), dann (gradient reversal), cdan / cdan+e (conditional adversarial,
    +entropy conditioning). The loss acts on the backbone's pooled features.
    ``selection``: which weights are kept, never chosen on target labels: ``last`` (final
    epoch), ``source_val`` (best source-validation loss, early stopping), ``target_entropy``
    (lowest mean prediction entropy minus entropy of the mean prediction on the unlabelled
    target windows).
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["none", "adabn", "coral", "mmd", "jmmd", "dann", "cdan", "cdan+e"] = "none"
    weight: float = Field(default=1.0, ge=0, description="trade-off of the adaptation loss")
    schedule: Literal["dann", "constant"] = Field(
        default="dann",
        description="weight x (2 / (1 + exp(-10 p)) - 1) over training progress p, or constant",
    )
    selection: Literal["last", "source_val", "target_entropy"] = "source_val"
    kernels: int = Field(
        default=5, ge=1, description="mmd/jmmd: Gaussian bandwidths base x 2^(k - n/2)"
    )
    hidden: int = Field(
        default=64,
        ge=8,
        description="dann/cdan: width of the domain discriminator (2 hidden layers)",
    )
    cdan_dim: int = Field(
        default=1024, ge=16, description="cdan: random multilinear map size when F x k is larger"
    )


class TrainConfig(BaseModel):
    """How a model is fitted. Non-torch models use ``seed`` and ignore the rest."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(default=30, ge=1, le=100_000)
    batch_size: int = Field(default=64, ge=1, le=65_536)
    lr: float = Field(default=1e-3, gt=0, le=10, allow_inf_nan=False)
    weight_decay: float = Field(default=0.0, ge=0, le=10, allow_inf_nan=False)
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    schedule: Literal["none", "onecycle", "cosine", "plateau"] = "onecycle"
    patience: int | None = Field(
        default=8, ge=1, description="early-stopping patience in epochs; None = off"
    )
    min_delta: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    grad_clip: float | None = Field(
        default=1.0, ge=0, allow_inf_nan=False, description="0/None = off"
    )
    class_weights: bool = False
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    deterministic: bool = False
    device: str = "auto"
    amp: bool = True
    time_budget_s: float | None = Field(
        default=None, gt=0, description="wall-clock limit for fit()"
    )
    num_threads: int | None = Field(default=None, ge=1, le=1024)
    progress: bool = True
    checkpoint_every: int = Field(default=1, ge=1, le=100_000)
    resume: bool = Field(
        default=False, description="continue from run_dir/checkpoint.pt when it exists"
    )
    augment: Literal["auto"] | list[AugmentName] | AugmentConfig = Field(
        default="auto",
        description="on-the-fly training-batch augmentation: a mapping (AugmentConfig: "
        "speed_jitter, amplitude, noise_snr_db, shift, flip, bandpass, p) or the short list "
        "form (shift, scale = gain in [0.8, 1.25], noise = 26 dB SNR, flip; every window); "
        "auto = shift for signal windows, none for tabular features (their order is meaning)",
    )
    adaptation: AdaptationConfig = Field(default_factory=AdaptationConfig)

    def augmentation(self, tabular: bool = False) -> AugmentConfig:
        """The augmentations to apply, with ``auto`` and the list form resolved."""
        if isinstance(self.augment, AugmentConfig):
            return self.augment
        if self.augment == "auto":
            return AugmentConfig.from_names([] if tabular else ["shift"])
        return AugmentConfig.from_names(list(self.augment))
