"""Training configuration shared by every trainable model (torch nets read all of it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    weight: float = Field(1.0, ge=0, description="trade-off of the adaptation loss")
    schedule: Literal["dann", "constant"] = Field(
        "dann", description="weight x (2 / (1 + exp(-10 p)) - 1) over training progress p, or constant"
    )
    selection: Literal["last", "source_val", "target_entropy"] = "source_val"
    kernels: int = Field(5, ge=1, description="mmd/jmmd: Gaussian bandwidths base x 2^(k - n/2)")
    hidden: int = Field(256, ge=8, description="dann/cdan: width of the domain discriminator")
    cdan_dim: int = Field(1024, ge=16, description="cdan: random multilinear map size when F x k is larger")


class TrainConfig(BaseModel):
    """How a model is fitted. Non-torch models use ``seed`` and ignore the rest."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    schedule: Literal["none", "onecycle", "cosine", "plateau"] = "onecycle"
    patience: int | None = Field(8, ge=1, description="early-stopping patience in epochs; None = off")
    min_delta: float = 0.0
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    grad_clip: float | None = 1.0
    class_weights: bool = False
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    amp: bool = True
    time_budget_s: float | None = Field(None, gt=0, description="wall-clock limit for fit()")
    num_threads: int | None = None
    progress: bool = True
    checkpoint_every: int = Field(1, ge=1)
    resume: bool = Field(False, description="continue from run_dir/checkpoint.pt when it exists")
    augment: Literal["auto"] | list[Literal["shift", "scale", "noise", "flip"]] = Field(
        "auto",
        description="on-the-fly batch augmentation: shift (random circular time shift), "
        "scale (amplitude x U(0.8, 1.2)), noise (Gaussian, 5% of the window's std), flip (sign); "
        "auto = shift for signal windows, none for tabular features (their order is meaning)",
    )
    adaptation: AdaptationConfig = Field(default_factory=AdaptationConfig)
