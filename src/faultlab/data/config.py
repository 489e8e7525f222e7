"""Declarative data and split configuration (the ``data:`` and ``split:`` blocks of a config)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from faultlab.limits import (
    RATE_MAX_HZ,
    RATE_MIN_HZ,
    STRIDE_MAX,
    STRIDE_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
)


class DataConfig(BaseModel):
    """Where recordings come from and how they become windows.

    ``dataset``: ``cwru`` (catalogue + cache), ``synthetic`` (generator), ``files`` (a user's
    own recordings listed in a manifest) or ``table`` (a CSV of features with label columns).
    """

    model_config = ConfigDict(extra="forbid")

    dataset: Literal["cwru", "synthetic", "files", "table"] = "cwru"
    data_dir: str | None = None
    # cwru: catalogue filter on fault recordings (column -> value or list of values) ...
    select: dict[str, Any] = Field(
        default_factory=lambda: {
            "fault_end": "DE",
            "sampling_rate_hz": 12000,
            "fault_location": ["IR", "B", "OR@6"],
            "fault_diameter_in": [0.007, 0.014, 0.021],
        }
    )
    # ... plus the normal baseline recordings at the selected loads, whatever their rate.
    normal: bool = True
    files: list[int | str] | None = Field(None, description="explicit CWRU numbers or paths")
    download: bool = False
    manifest: str | None = Field(None, description="files dataset: CSV/YAML manifest")
    channel: str | list[str] = "DE"
    target_rate: float | None = Field(
        12000, ge=RATE_MIN_HZ, le=RATE_MAX_HZ, allow_inf_nan=False,
        description="Hz every recording is resampled to (None: keep each file's rate)",
    )
    window: int = Field(1024, ge=WINDOW_MIN, le=WINDOW_MAX)
    stride: int | None = Field(
        None, ge=STRIDE_MIN, le=STRIDE_MAX, description="default: window (no overlap)"
    )
    normalise: Literal["none", "zscore", "minmax", "rms"] = "none"
    standardise: bool | None = Field(
        None,
        description="fit per-channel/position mean and std on the TRAINING windows only and "
        "apply them to all roles (default: on for tables, off for signals)",
    )
    # A class with a single recording (CWRU normal at 0 HP) is cut into contiguous blocks that
    # act as separate groups; blocks take the values 0..n-1 of ``block_column``.
    single_recording_blocks: int = Field(4, ge=1, le=1000)
    block_column: str | None = "load_hp"
    synthetic: dict[str, Any] = Field(default_factory=dict)
    table: dict[str, Any] = Field(default_factory=dict)


class ValConfig(BaseModel):
    """How validation windows are carved from the training side (never from test).

    ``tail``: the last ``fraction`` of each training recording, contiguous (no interleaving);
    ``recordings``: whole training recordings held out per class (needs >= 2 per class);
    ``none``: no validation set.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["tail", "recordings", "none"] = "tail"
    fraction: float = Field(0.15, gt=0, lt=1)


class SplitConfig(BaseModel):
    """Which windows train and which test.

    kinds: ``random_window`` (LEAKY: only to show how much it inflates scores),
    ``recording`` (stratified hold-out of whole recordings), ``group_kfold`` (stratified,
    grouped by recording), ``condition`` (train on ``train`` values of ``column``, test on
    ``test`` values: loads {0,1,2} -> {3}, rate 12k -> 48k, sizes), ``leave_one_out`` (one fold
    per value of ``column``), ``transfer`` (every ordered pair of single values of ``column``).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal[
        "random_window", "recording", "group_kfold", "condition", "leave_one_out", "transfer"
    ] = "leave_one_out"
    column: str = "load_hp"
    train: list[Any] | None = None
    test: list[Any] | None = None
    test_fraction: float = Field(0.25, gt=0, lt=1)
    n_splits: int = Field(5, ge=2)
    folds: list[Any] | None = Field(None, description="run only these folds (names or values)")
    unassigned: Literal["distribute", "train", "drop"] = Field(
        "distribute",
        description="recordings whose column is empty (normal has no fault size): "
        "distribute their blocks (last block to test), keep them in train, or drop them",
    )
    val: ValConfig = Field(default_factory=ValConfig)
    disjoint: bool | None = Field(
        None,
        description="require recording-disjoint train/test (default: all kinds but random_window); "
        "true on random_window makes its leakage an error",
    )
    seed: int = 0
