"""The contracts every package shares: Recording -> WindowSet -> Split.

A ``Recording`` is one continuous measurement. A ``WindowSet`` is many fixed-length windows
cut from recordings, with one label array per task and the ``recording_id`` of every window:
that id is the key all splits and leakage checks use. A ``Split`` is a set of window indices
per role plus the rule that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: reading one file (`faultlab data info`) skips pandas
    import pandas as pd

#: Label value meaning "not applicable" (e.g. fault size of a healthy bearing).
NOT_APPLICABLE = -1

#: Metadata keys a Recording may carry; loaders fill what they know, others stay None.
#: ``dataset`` names the machine (cwru, mfpt, files, ...); ``load`` is in ``load_unit`` (CWRU:
#: hp, also in ``load_hp``; MFPT: lbs); ``rpm`` is the shaft speed; ``bearing`` is a key of
#: ``faultlab.data.bearings.BEARINGS`` or a geometry spec (``bearings.resolve`` reads both).
META_KEYS = (
    "dataset",
    "source",
    "condition",
    "fault_location",
    "fault_diameter_in",
    "load_hp",
    "load",
    "load_unit",
    "rpm",
    "sensor_end",
    "fault_end",
    "bearing",
)


@dataclass
class Recording:
    """One continuous measurement: ``signal`` is float32 ``[channels, n_samples]``."""

    recording_id: str
    signal: np.ndarray
    sampling_rate: float
    channels: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal, dtype=np.float32)
        if sig.ndim == 1:
            sig = sig[None, :]
        self.signal = sig
        if len(self.channels) != sig.shape[0]:
            raise ValueError(
                f"recording {self.recording_id}: {sig.shape[0]} channels but names {self.channels}"
            )

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / float(self.sampling_rate)


@dataclass
class WindowSet:
    """Windows ready for models.

    X: float32 ``[n, channels, length]``.
    y: task name -> int64 ``[n]`` (``NOT_APPLICABLE`` where the task does not apply).
    classes: task name -> class names (index = label value).
    recording_id: ``[n]`` str, the grouping key for splits.
    info: per-window metadata (DataFrame with ``n`` rows: recording_id, load_hp, ...).
    notes: compromises a report must state (e.g. a recording cut into blocks).
    """

    X: np.ndarray
    y: dict[str, np.ndarray]
    classes: dict[str, list[str]]
    recording_id: np.ndarray
    info: pd.DataFrame
    sampling_rate: float | None = None
    channels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feature_names: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.X)
        self.recording_id = np.asarray(self.recording_id).astype(str, copy=False)
        for task, arr in self.y.items():
            if len(arr) != n:
                raise ValueError(f"task {task!r}: {len(arr)} labels for {n} windows")
        if len(self.recording_id) != n or len(self.info) != n:
            raise ValueError("recording_id/info length must equal the number of windows")

    def __len__(self) -> int:
        return int(len(self.X))

    @property
    def tasks(self) -> list[str]:
        return list(self.y)

    @property
    def groups(self) -> np.ndarray:
        """The recording id of every window: pass it as ``groups=`` to scikit-learn's
        grouped cross-validation so no recording feeds both training and test."""
        return self.recording_id

    def recording_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, names)``: sorted unique recording ids and an int32 code per window
        (``names[codes] == recording_id``).

        Why not ``np.unique(recording_id, return_inverse=True)``: that sorts a copy of every
        window's id string. A recording's windows are mostly consecutive, so only the id of
        each run of equal ids is sorted; per window this costs 4 bytes, whatever the order.
        """
        rid = self.recording_id
        if len(rid) == 0:
            return np.zeros(0, np.int32), rid[:0]
        starts = np.flatnonzero(np.concatenate([[True], rid[1:] != rid[:-1]]))
        names, run_codes = np.unique(rid[starts], return_inverse=True)
        lengths = np.diff(np.append(starts, len(rid)))
        return np.repeat(run_codes.astype(np.int32), lengths), names

    @property
    def meta(self) -> pd.DataFrame:
        """Per-window metadata (recording_id, load_hp, fault_location, position, ...)."""
        return self.info

    @property
    def window_length(self) -> int:
        return int(self.X.shape[-1])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    def subset(self, idx: np.ndarray) -> WindowSet:
        """Windows at ``idx`` (a copy of X only where numpy must)."""
        idx = np.asarray(idx)
        lazy = getattr(self.X, "subset", None)  # an on-disk WindowArray stays on disk
        return WindowSet(
            X=lazy(idx) if lazy is not None else self.X[idx],
            y={t: a[idx] for t, a in self.y.items()},
            classes=self.classes,
            recording_id=self.recording_id[idx],
            info=self.info.iloc[idx].reset_index(drop=True),
            sampling_rate=self.sampling_rate,
            channels=self.channels,
            notes=self.notes,
            feature_names=self.feature_names,
        )

    def select_tasks(self, tasks: list[str]) -> WindowSet:
        missing = [t for t in tasks if t not in self.y]
        if missing:
            raise KeyError(f"unknown task(s) {missing}; available: {self.tasks}")
        # every window kept: share the arrays (copy-on-write frame), copy nothing per window
        return WindowSet(
            X=self.X,
            y={t: self.y[t] for t in tasks},
            classes={t: self.classes[t] for t in tasks},
            recording_id=self.recording_id,
            info=self.info.copy(deep=False),
            sampling_rate=self.sampling_rate,
            channels=self.channels,
            notes=self.notes,
            feature_names=self.feature_names,
        )

    def class_counts(self, task: str) -> dict[str, int]:
        labels = self.y[task]
        return {name: int((labels == i).sum()) for i, name in enumerate(self.classes[task])}


@dataclass(frozen=True)
class UnlabelledWindows:
    """Target-domain windows for unsupervised adaptation: ``X`` only, by construction.

    The training engine accepts target data only in this form, so no label of an adaptation
    window can reach an adaptation loss or a model-selection criterion.
    """

    X: np.ndarray

    def __post_init__(self) -> None:
        if isinstance(self.X, WindowSet) or not isinstance(self.X, np.ndarray) or self.X.ndim != 3:
            raise TypeError("UnlabelledWindows takes a float array [n, channels, length] (X only)")

    @classmethod
    def of(cls, ws: WindowSet) -> UnlabelledWindows:
        """Strip a WindowSet to its signals (labels, ids and metadata are dropped)."""
        return cls(np.asarray(ws.X, dtype=np.float32))

    def __len__(self) -> int:
        return int(len(self.X))


@dataclass
class Split:
    """Window indices per role, and the rule that produced them (saved as split.json)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: unlabelled target windows for domain adaptation (labels never read); may equal
    #: ``test`` only when ``adapt_mode`` is ``transductive``
    adapt: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: how adapt and test were divided: "" (no adapt role), recordings, blocks, transductive
    adapt_mode: str = ""
    rule: dict[str, Any] = field(default_factory=dict)
    leaky: bool = False
    kind: str = ""
    notes: list[str] = field(default_factory=list)
    # what the validation windows are: strategy (tail | recordings | condition | none) and a
    # one-line description, so reports can say whether validation mimics the test shift
    val_kind: str = ""
    val_description: str = ""

    @property
    def transductive(self) -> bool:
        return self.adapt_mode == "transductive"

    def roles(self) -> dict[str, np.ndarray]:
        """train/val/test, plus ``adapt`` when the split has unlabelled target windows."""
        out = {"train": self.train, "val": self.val, "test": self.test}
        if len(self.adapt):
            out["adapt"] = self.adapt
        return out

    def to_dict(self, windows: WindowSet | None = None) -> dict[str, Any]:
        """JSON form; with ``windows``, also the recordings and class counts per role."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "rule": self.rule,
            "leaky": self.leaky,
            "adapt_mode": self.adapt_mode,
            "notes": list(self.notes),
            "n_windows": {r: int(len(i)) for r, i in self.roles().items()},
            "validation": {"kind": self.val_kind, "description": self.val_description},
        }
        if windows is not None:
            codes, names = windows.recording_codes()
            out["recordings"] = {
                r: names[np.unique(codes[i])].tolist() for r, i in self.roles().items()
            }
            out["notes"] = list(dict.fromkeys([*windows.notes, *self.notes]))
        out["indices"] = {r: np.asarray(i).tolist() for r, i in self.roles().items()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Split:
        idx = d.get("indices", {})
        return cls(
            name=d["name"],
            kind=d.get("kind", ""),
            rule=d.get("rule", {}),
            leaky=bool(d.get("leaky", False)),
            adapt_mode=str(d.get("adapt_mode", "")),
            notes=list(d.get("notes", [])),
            val_kind=(d.get("validation") or {}).get("kind", ""),
            val_description=(d.get("validation") or {}).get("description", ""),
            train=np.asarray(idx.get("train", []), dtype=np.int64),
            val=np.asarray(idx.get("val", []), dtype=np.int64),
            test=np.asarray(idx.get("test", []), dtype=np.int64),
            adapt=np.asarray(idx.get("adapt", []), dtype=np.int64),
        )
