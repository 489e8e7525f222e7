"""The unlabelled *adapt* role of condition/transfer splits (unsupervised domain adaptation).

The target side of a fold (its test windows) is divided into adaptation windows, whose
signals a model may see during training but whose labels are never read, and test windows,
disjoint from them:

- ``recordings``: whole target recordings per class adapt, the others test (a class needs
  at least two target recordings); the class of a recording is read only to make sure every
  class keeps a test recording: the adaptation loss and model selection receive X only;
- ``blocks``: each target recording is cut in time: its first ``fraction`` of windows adapt,
  the rest test (contiguous, never interleaved);
- ``transductive``: the test windows themselves adapt (UDTL's protocol). Labelled as such in
  every report: it measures adaptation to the very windows that are scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultlab.data.config import SplitConfig
from faultlab.data.types import Split, WindowSet
from faultlab.errors import ConfigError, LeakageError

#: Split kinds whose test side is a target domain.
TARGET_KINDS = ("condition", "transfer", "leave_one_out")

TRANSDUCTIVE_NOTE = (
    "TRANSDUCTIVE adaptation: the unlabelled test windows themselves were used for adaptation "
    "(labels never read), as in UDTL; this does not measure adaptation to unseen target data."
)


def _target_table(ws: WindowSet, test: np.ndarray) -> pd.DataFrame:
    labels = ws.y[ws.tasks[0]][test]
    df = pd.DataFrame({"rid": ws.recording_id[test], "y": labels})
    return df.groupby("rid", sort=True)["y"].first().reset_index()


def resolve_mode(ws: WindowSet, split: Split, mode: str) -> str:
    """``auto`` -> ``recordings`` when every target class has >= 2 recordings, else ``blocks``."""
    if mode != "auto":
        return mode
    counts = _target_table(ws, split.test)["y"].value_counts()
    return "recordings" if len(counts) and counts.min() >= 2 else "blocks"


def _by_recordings(ws: WindowSet, split: Split, frac: float, seed: int) -> tuple[np.ndarray, str]:
    rec = _target_table(ws, split.test)
    rng = np.random.default_rng(seed)
    adapt_rids: list[str] = []
    for _, group in rec.groupby("y"):
        ids = sorted(group["rid"])
        if len(ids) < 2:
            raise ConfigError(
                f"split {split.name!r}: adapt mode 'recordings' needs >= 2 target recordings per "
                f"class; {ids[0]} is alone in its class (use mode blocks or auto)"
            )
        k = min(len(ids) - 1, max(1, round(frac * len(ids))))
        adapt_rids += sorted(rng.choice(ids, size=k, replace=False).tolist())
    is_adapt = np.isin(ws.recording_id[split.test], adapt_rids)
    note = (
        f"adaptation (unlabelled, labels never read): {len(adapt_rids)} whole target "
        f"recording(s) ({', '.join(adapt_rids)}); the other target recordings test"
    )
    return is_adapt, note


def _by_blocks(ws: WindowSet, split: Split, frac: float) -> tuple[np.ndarray, str]:
    if "position" not in ws.info:
        raise ConfigError(
            f"split {split.name!r}: adapt mode 'blocks' needs windows cut from signals"
        )
    rid = ws.recording_id[split.test]
    pos = pd.Series(ws.info["position"].to_numpy()[split.test])
    rank = pos.groupby(rid).rank(method="first").to_numpy() - 1
    n_per = pd.Series(rid).map(pd.Series(rid).value_counts()).to_numpy()
    is_adapt = rank < np.floor(n_per * frac)
    note = (
        f"adaptation (unlabelled, labels never read): the first {frac:.0%} of each target "
        f"recording (contiguous time block); its last {1 - frac:.0%} tests"
    )
    return is_adapt, note


def carve_adaptation(ws: WindowSet, split: Split, cfg: SplitConfig) -> Split:
    """Give ``split`` its adapt role per ``cfg.adapt`` (a no-op for mode ``none``)."""
    mode = cfg.adapt.mode
    if mode == "none":
        return split
    if cfg.kind not in TARGET_KINDS:
        raise ConfigError(
            f"split.adapt.mode {mode!r} needs a target domain: split.kind one of {list(TARGET_KINDS)}, "
            f"not {cfg.kind!r}"
        )
    if mode == "transductive":
        split.adapt = np.array(split.test, copy=True)
        split.adapt_mode = mode
        split.notes.append(TRANSDUCTIVE_NOTE)
        return split
    mode = resolve_mode(ws, split, mode)
    if mode == "recordings":
        is_adapt, note = _by_recordings(ws, split, cfg.adapt.fraction, cfg.seed)
    else:
        is_adapt, note = _by_blocks(ws, split, cfg.adapt.fraction)
    if is_adapt.all() or not is_adapt.any():
        raise ConfigError(f"split {split.name!r}: the adapt/test division left an empty role")
    split.adapt = np.sort(split.test[is_adapt])
    split.test = np.sort(split.test[~is_adapt])
    split.adapt_mode = mode
    split.notes.append(note)
    return split


def check_adapt_roles(split: Split, ws: WindowSet) -> None:
    """Adapt windows: target side only (no train/val recording) and, unless transductive,
    disjoint from test windows (and from test recordings when divided by recording)."""
    if not len(split.adapt):
        return
    fit_ids = set(ws.recording_id[np.concatenate([split.train, split.val])])
    adapt_ids = set(ws.recording_id[split.adapt])
    shared = sorted(fit_ids & adapt_ids)
    if shared:
        raise LeakageError(
            f"split {split.name!r}: adaptation windows from training recording(s) "
            f"{', '.join(shared[:8])}"
        )
    if split.transductive:
        return
    both = np.intersect1d(split.adapt, split.test)
    if len(both):
        raise LeakageError(
            f"split {split.name!r}: {len(both)} window(s) are both adaptation and "
            "test windows (set split.adapt.mode: transductive to mean it)"
        )
    if split.adapt_mode == "recordings":
        common = sorted(adapt_ids & set(ws.recording_id[split.test]))
        if common:
            raise LeakageError(
                f"split {split.name!r}: recording(s) {', '.join(common[:8])} both adapt and test"
            )
