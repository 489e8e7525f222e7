"""Training configuration shared by every trainable model (torch nets read all of it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """How a model is fitted. Non-torch models use ``seed`` and ignore the rest."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(30, ge=1, le=100_000)
    batch_size: int = Field(64, ge=1, le=65_536)
    lr: float = Field(1e-3, gt=0, le=10, allow_inf_nan=False)
    weight_decay: float = Field(0.0, ge=0, le=10, allow_inf_nan=False)
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    schedule: Literal["none", "onecycle", "cosine", "plateau"] = "onecycle"
    patience: int | None = Field(8, ge=1, description="early-stopping patience in epochs; None = off")
    min_delta: float = Field(0.0, ge=0, allow_inf_nan=False)
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    grad_clip: float | None = Field(1.0, ge=0, allow_inf_nan=False, description="0/None = off")
    class_weights: bool = False
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    deterministic: bool = False
    device: str = "auto"
    amp: bool = True
    time_budget_s: float | None = Field(None, gt=0, description="wall-clock limit for fit()")
    num_threads: int | None = Field(None, ge=1, le=1024)
    progress: bool = True
    checkpoint_every: int = Field(1, ge=1, le=100_000)
    resume: bool = Field(False, description="continue from run_dir/checkpoint.pt when it exists")
    augment: Literal["auto"] | list[Literal["shift", "scale", "noise", "flip"]] = Field(
        "auto",
        description="on-the-fly batch augmentation: shift (random circular time shift), "
        "scale (amplitude x U(0.8, 1.2)), noise (Gaussian, 5% of the window's std), flip (sign); "
        "auto = shift for signal windows, none for tabular features (their order is meaning)",
    )
