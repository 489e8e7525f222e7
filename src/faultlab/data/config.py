"""Declarative data and split configuration (the ``data:`` and ``split:`` blocks of a config)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from faultlab.data.synthetic import SyntheticConfig
from faultlab.data.tabular import TableConfig
from faultlab.limits import (
    RATE_MAX_HZ,
    RATE_MIN_HZ,
    STRIDE_MAX,
    STRIDE_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
)

#: Sources that are not catalogues: the generator, a user's manifest, a feature table, and
#: several datasets at once (``sources:``).
NON_CATALOGUE = ("synthetic", "files", "table", "sources", "store")


def _as_given(block: BaseModel | None) -> dict[str, Any]:
    """A nested block as the user wrote it (the keys they set): what config.yaml holds and a
    config hash is taken of, so runs made before the block was typed compare equal."""
    return {} if block is None else block.model_dump(mode="json", exclude_unset=True)


def _check_dataset(value: str) -> str:
    from faultlab.data.datasets import dataset_names

    name = str(value).lower()
    known = (*dataset_names(), *NON_CATALOGUE)
    if name not in known:
        raise ValueError(f"unknown dataset {value!r}; choose one of {', '.join(known)}")
    return name


#: ``data.bearing`` value meaning "the bearing at each recording's fault end" (the catalogue's
#: ``bearing`` column), whatever sensor reads it.
FAULT_END = "fault_end"

BEARING_HELP = (
    "which bearing's defect orders the order-domain front ends look for in this data: null "
    "(default) the bearing under each sensor (CWRU: DE 6205, FE 6203); fault_end the "
    "bearing at each recording's fault end (a drive-end fault read on the FE or BA channel is "
    "still a 6205 fault); or one bearing for every recording (a key such as 6205 or a "
    "geometry 'n_balls=..,ball_diameter=..,pitch_diameter=..')"
)


def _check_bearing(value: Any) -> str | None:
    """``fault_end``, a known bearing / valid geometry spec, or None; else a one-line error."""
    if value is None:
        return None
    from faultlab.data.bearings import BEARINGS, resolve
    from faultlab.errors import DataError

    text = str(value).strip()
    if text.lower() == FAULT_END:
        return FAULT_END
    if "=" not in text and text.upper() not in {k.upper() for k in BEARINGS}:
        raise ValueError(
            f"unknown bearing {value!r}; use {FAULT_END} (the bearing at each recording's "
            f"fault end), one of {sorted(BEARINGS)} or a geometry "
            "'n_balls=9,ball_diameter=0.3126,pitch_diameter=1.537'"
        )
    try:
        resolve(text, "bearing")
    except DataError as exc:
        raise ValueError(str(exc).removeprefix("bearing: ")) from None
    return text


class SourceConfig(BaseModel):
    """One dataset of a multi-machine ``data.sources`` list (``dataset: cwru`` / ``mfpt`` /
    ``files`` / ``synthetic``); ``select: null`` means the dataset's default selection and
    ``channel: null`` its default channel (CWRU ``DE``, MFPT ``gs``)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    label: str | None = Field(
        default=None,
        description="the 'dataset' value of this source's windows (default: dataset), "
        "to tell two machines of one kind apart (two manifests, two synthetic rigs)",
    )
    data_dir: str | None = None
    select: dict[str, Any] | None = None
    normal: bool = True
    files: list[int | str] | None = None
    download: bool = False
    manifest: str | None = None
    channel: str | list[str] | None = None
    bearing: str | None = Field(default=None, description=BEARING_HELP)
    synthetic: SyntheticConfig = Field(
        default_factory=SyntheticConfig, description="dataset synthetic: the generator"
    )

    @field_validator("bearing", mode="before")
    @classmethod
    def _bearing(cls, value: Any) -> str | None:
        return _check_bearing(value)

    @field_validator("dataset")
    @classmethod
    def _known(cls, value: str) -> str:
        value = _check_dataset(value)
        if value in ("sources", "table"):
            raise ValueError(f"a source cannot be {value!r}")
        return value

    @field_serializer("synthetic")
    def _synthetic_as_given(self, block: SyntheticConfig) -> dict[str, Any]:
        return _as_given(block)


class StoreConfig(BaseModel):
    """Where the on-disk window store lives (``data.store``): windows are written there once
    and streamed in batches, for data larger than memory (see ``faultlab.data.store``)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="store directory (same path on every node of a cluster)")
    rebuild: bool = Field(
        default=False, description="write it again even if it matches this config"
    )


class DataConfig(BaseModel):
    """Where recordings come from and how they become windows.

    ``dataset``: a catalogued dataset (``cwru``, ``mfpt``: catalogue + cache), ``synthetic``
    (generator), ``files`` (a user's own recordings listed in a manifest), ``table`` (a CSV of
    features with label columns) or ``sources`` (several of these, listed in ``sources``:
    windows from several machines, e.g. train on CWRU and test on MFPT with a ``condition``
    split on the ``dataset`` column). ``select`` defaults to the dataset's own default
    selection (CWRU: 12 kHz drive-end IR/B/OR@6 faults; MFPT: every file) and ``channel`` to
    its default channel.
    ``store`` opens an existing on-disk window store at ``store.path``; ``store:`` with any
    signal dataset writes its windows once to that store and streams them from there
    (training, features, prediction) instead of holding them in memory.
    """

    model_config = ConfigDict(extra="forbid")

    dataset: str = "cwru"
    data_dir: str | None = None
    # catalogue filter on fault recordings (column -> value or list of values) ...
    select: dict[str, Any] = Field(default_factory=dict)
    # ... plus the normal recordings (CWRU: at the selected loads, whatever their rate).
    normal: bool = True
    files: list[int | str] | None = Field(
        default=None, description="explicit catalogue files or paths"
    )
    download: bool = False
    manifest: str | None = Field(default=None, description="files dataset: CSV/YAML manifest")
    sources: list[SourceConfig] | None = Field(
        default=None, description="dataset 'sources': the datasets"
    )
    channel: str | list[str] | None = "DE"
    bearing: str | None = Field(
        default=None, description=BEARING_HELP + "; with dataset sources, each source's default"
    )
    target_rate: float | None = Field(
        default=12000,
        ge=RATE_MIN_HZ,
        le=RATE_MAX_HZ,
        allow_inf_nan=False,
        description="Hz every recording is resampled to (None: keep each file's rate)",
    )
    window: int = Field(default=1024, ge=WINDOW_MIN, le=WINDOW_MAX)
    stride: int | None = Field(
        default=None, ge=STRIDE_MIN, le=STRIDE_MAX, description="default: window (no overlap)"
    )
    normalise: Literal["none", "zscore", "minmax", "rms"] = "none"
    standardise: bool | None = Field(
        default=None,
        description="fit per-channel/position mean and std on the TRAINING windows only and "
        "apply them to all roles (default: on for tables, off for signals)",
    )
    # A class with a single recording (CWRU normal at 0 HP) is cut into contiguous blocks that
    # act as separate groups; blocks take the values 0..n-1 of ``block_column``.
    single_recording_blocks: int = Field(default=4, ge=1, le=1000)
    block_column: str | None = "load_hp"
    synthetic: SyntheticConfig = Field(
        default_factory=SyntheticConfig, description="dataset synthetic: the generator"
    )
    table: TableConfig | None = Field(
        default=None, description="dataset table: the CSV and which columns mean what"
    )
    store: StoreConfig | None = None

    @field_validator("bearing", mode="before")
    @classmethod
    def _bearing(cls, value: Any) -> str | None:
        return _check_bearing(value)

    @field_validator("table", mode="before")
    @classmethod
    def _no_table(cls, value: Any) -> Any:
        return None if value == {} else value  # configs written before the block was typed

    @field_serializer("synthetic", "table")
    def _blocks_as_given(self, block: BaseModel | None) -> dict[str, Any]:
        return _as_given(block)

    @model_validator(mode="before")
    @classmethod
    def _dataset_defaults(cls, data: Any) -> Any:
        """A catalogued dataset's default selection and channel where the config gives none."""
        if not isinstance(data, dict):
            return data
        name = _check_dataset(data.get("dataset", "cwru"))
        data = {**data, "dataset": name}
        if name not in NON_CATALOGUE:
            from faultlab.data.datasets import get_dataset

            spec = get_dataset(name)
            data.setdefault("select", dict(spec.default_select))
            data.setdefault("channel", spec.default_channels[0] if name != "cwru" else "DE")
        return data

    @model_validator(mode="after")
    def _sources(self) -> DataConfig:
        if (self.dataset == "sources") != bool(self.sources):
            raise ValueError(
                "list the datasets under 'sources' with dataset: sources (and only then)"
            )
        if self.dataset == "table" and self.table is None:
            raise ValueError("dataset table needs a 'table' block with at least its path")
        for source in self.sources or []:
            if source.data_dir is None:
                source.data_dir = self.data_dir
            if source.bearing is None:
                source.bearing = self.bearing
        return self


class ValConfig(BaseModel):
    """How validation windows are carved from the training side (never from test).

    ``tail``: the last ``fraction`` of each training recording, contiguous (no interleaving);
    ``recordings``: whole training recordings held out per class (needs >= 2 per class);
    ``condition``: every training recording with one value of ``column`` (default: the
    split's column) held out, so validation is a shift like the test's (another fault size,
    another load): early stopping and tuning then select for generalisation. Which value:
    ``value``, or by default the training value nearest the fold's test value(s) in sorted
    order (ties: the larger). Held-out size 0.021 -> val 0.014; 0.007 -> 0.014; 0.014 ->
    0.021. Recordings without a value (normal has no fault size) give their ``fraction``
    tail. Falls back to ``tail`` (with a note) when training has a single value;
    ``none``: no validation set.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["tail", "recordings", "condition", "none"] = "tail"
    fraction: float = Field(default=0.15, gt=0, lt=1)
    column: str | None = Field(default=None, description="condition: column to hold out a value of")
    value: Any | None = Field(
        default=None, description="condition: value(s) to hold out; None = auto"
    )
    refit: bool = Field(
        default=False,
        description="after the fit on train (early stopping on val), refit on train + val for "
        "the selected number of epochs: validation chose when to stop, and the final model "
        "still learns from every training condition (the test is never looked at)",
    )


class AdaptRoleConfig(BaseModel):
    """How the target side of a condition/transfer split is shared with domain adaptation.

    ``none``: every target window tests; ``recordings``: whole target recordings per class
    adapt (needs >= 2 per class), the others test; ``blocks``: the first ``fraction`` of each
    target recording adapts and its last part tests (contiguous time blocks); ``auto``:
    recordings where every target class has several, else blocks; ``transductive``: adapt on
    the test windows themselves (as UDTL does), an explicit, labelled choice. Adaptation
    windows' labels are never read.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["none", "auto", "recordings", "blocks", "transductive"] = "none"
    fraction: float = Field(
        default=0.5, gt=0, lt=1, description="share of target recordings/windows that adapt"
    )


class SplitConfig(BaseModel):
    """Which windows train and which test.

    kinds: ``random_window`` (LEAKY: only to show how much it inflates scores),
    ``recording`` (stratified hold-out of whole recordings), ``group_kfold`` (stratified,
    grouped by recording), ``condition`` (train on ``train`` values of ``column``, test on
    ``test`` values: loads {0,1,2} -> {3}, rate 12k -> 48k, sizes), ``leave_one_out`` (one fold
    per value of ``column``; ``train`` / ``test`` selectors, when given, limit every fold's
    roles: train on one sensor's windows, test on another's), ``transfer`` (every ordered pair
    of single values of ``column``).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal[
        "random_window", "recording", "group_kfold", "condition", "leave_one_out", "transfer"
    ] = "leave_one_out"
    column: str | list[str] = Field(
        default="load_hp",
        description="window column(s) to split on; sampling_rate_hz means the rate a recording "
        "was recorded at (original_rate_hz), not the rate after resampling",
    )
    train: list[Any] | None = Field(
        default=None,
        description="values of column (value lists with several columns), or selectors: "
        "mappings column -> value(s) that must all match, e.g. {condition: normal, load_hp: [0, 1]}; "
        "leave_one_out: selectors every fold's training windows must also match",
    )
    test: list[Any] | None = Field(
        default=None,
        description="as train; leave_one_out: selectors every fold's test windows must also match",
    )
    test_fraction: float = Field(default=0.25, gt=0, lt=1)
    n_splits: int = Field(default=5, ge=2)
    folds: list[Any] | None = Field(
        default=None, description="run only these folds (names or values)"
    )
    unassigned: Literal["distribute", "train", "test", "drop"] = Field(
        default="distribute",
        description="recordings whose column is empty (normal has no fault size): "
        "distribute their blocks (last block to test), keep them in train or test, or drop them",
    )
    val: ValConfig = Field(default_factory=ValConfig)
    adapt: AdaptRoleConfig = Field(default_factory=AdaptRoleConfig)
    disjoint: bool | None = Field(
        default=None,
        description="require recording-disjoint train/test (default: all kinds but random_window); "
        "true on random_window makes its leakage an error",
    )
    seed: int = 0
