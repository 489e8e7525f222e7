"""Declarative, leakage-checked splits of a WindowSet.

Every split strategy returns one or more :class:`Split` folds; validation windows are then
carved from the training side only, and :func:`check_no_leakage` refuses any fold in which a
recording feeds both training (or validation) and test. The window-level random split is the
one exception: it exists to show how much leakage inflates scores, and says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from faultlab.data.adapt_split import carve_adaptation, check_adapt_roles
from faultlab.data.config import SplitConfig
from faultlab.data.types import Split, WindowSet
from faultlab.errors import ConfigError, LeakageError

LEAKY_NOTE = (
    "LEAKY window-level random split: windows of the same recording are in both train and "
    "test, so scores are inflated; use it only to measure that inflation."
)

#: How reports name the protocol of each split kind.
PROTOCOLS = {
    "random_window": "leaky window-level split",
    "recording": "recording-level hold-out",
    "group_kfold": "grouped k-fold (by recording)",
    "condition": "operating-condition split",
    "leave_one_out": "leave-one-condition-out",
    "transfer": "condition-to-condition transfer",
}


def primary_labels(ws: WindowSet) -> np.ndarray:
    return ws.y[ws.tasks[0]]


def _recording_table(ws: WindowSet) -> pd.DataFrame:
    """One row per recording (sorted by id): its first window's primary label."""
    codes, names = ws.recording_codes()
    _, first = np.unique(codes, return_index=True)
    return pd.DataFrame({"rid": names, "y": primary_labels(ws)[first]})


def _idx(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


# --- strategies: (windows, config) -> list of (name, train_idx, test_idx, rule, notes) ---------


def _random_window(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    y = primary_labels(ws)
    idx = np.arange(len(ws))
    counts = np.bincount(y - y.min())
    strat = y if counts[counts > 0].min() >= 2 else None
    tr, te = train_test_split(
        idx, test_size=cfg.test_fraction, random_state=cfg.seed, stratify=strat
    )
    warnings.warn(LEAKY_NOTE, stacklevel=3)
    return [Split("random windows", np.sort(tr), np.sort(te), leaky=True, notes=[LEAKY_NOTE])]


def _recording(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    rec = _recording_table(ws)
    counts = rec["y"].value_counts()
    strat = rec["y"] if counts.min() >= 2 else None
    n_test = max(1, math.ceil(cfg.test_fraction * len(rec)))
    if strat is not None:
        n_test = max(n_test, rec["y"].nunique())
    if n_test >= len(rec):
        raise ConfigError(f"split recording: only {len(rec)} recordings, cannot hold out {n_test}")
    _, test_rids = train_test_split(
        rec["rid"], test_size=n_test, random_state=cfg.seed, stratify=strat
    )
    codes, names = ws.recording_codes()
    test = np.isin(codes, np.searchsorted(names, np.asarray(test_rids, dtype=names.dtype)))
    return [Split("recording hold-out", _idx(~test), _idx(test))]


def _group_kfold(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    n_groups = len(np.unique(ws.recording_id))
    if n_groups < cfg.n_splits:
        raise ConfigError(
            f"split group_kfold: n_splits={cfg.n_splits} but only {n_groups} recordings"
        )
    kf = StratifiedGroupKFold(n_splits=cfg.n_splits, shuffle=True, random_state=cfg.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" on tiny sets
        folds = kf.split(np.zeros(len(ws)), primary_labels(ws), groups=ws.recording_id)
        return [Split(f"fold {i}", np.sort(tr), np.sort(te)) for i, (tr, te) in enumerate(folds)]


#: Split columns read from another window column: the rate a recording was *recorded* at
#: (``sampling_rate_hz`` holds the rate after resampling, the same for every window).
SPLIT_COLUMN_ALIASES = {"sampling_rate_hz": "original_rate_hz"}


def _column(ws: WindowSet, column: str) -> pd.Series:
    alias = SPLIT_COLUMN_ALIASES.get(column)
    if alias is not None and alias in ws.info:
        column = alias
    if column not in ws.info:
        raise ConfigError(
            f"split column {column!r} is not in the window metadata; columns: {sorted(ws.info.columns)}"
        )
    return ws.info[column]


def _values_mask(col: pd.Series, values: list[Any]) -> np.ndarray:
    """A writable boolean mask of rows whose value is one of ``values`` (numbers or text)."""
    if pd.api.types.is_numeric_dtype(col):
        try:
            want = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(f"split column {col.name!r} holds numbers; got {values}") from None
        return np.isin(col.to_numpy(dtype=float, na_value=np.nan), want)
    keep = col.notna().to_numpy()
    return np.array(col.astype(str).isin([str(v) for v in values]).to_numpy() & keep, dtype=bool)


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]


def _role_mask(ws: WindowSet, cfg: SplitConfig, values: list[Any]) -> tuple[np.ndarray, list[str]]:
    """Windows of one role, and the columns consulted.

    ``values`` is a list of values of ``cfg.column``; with several columns, a list of value
    lists (one per column); or a list of selectors (mappings column -> value(s)); a window
    belongs to the role when it matches any entry (and, within an entry, every column).
    """
    columns = cfg.column if isinstance(cfg.column, list) else [cfg.column]
    mask = np.zeros(len(ws), dtype=bool)
    used: list[str] = []
    if all(isinstance(v, dict) for v in values):
        for sel in values:
            m = np.ones(len(ws), dtype=bool)
            for col, want in sel.items():
                m &= _values_mask(_column(ws, col), _as_list(want))
                used.append(col)
            mask |= m
        return mask, list(dict.fromkeys(used))
    if any(isinstance(v, dict) for v in values):
        raise ConfigError("split train/test: give either values or selectors (mappings), not both")
    if len(columns) == 1:
        return _values_mask(_column(ws, columns[0]), values), columns
    for combo in values:
        combo = _as_list(combo)
        if len(combo) != len(columns):
            raise ConfigError(f"split value {combo} must have one entry per column {columns}")
        m = np.ones(len(ws), dtype=bool)
        for col, v in zip(columns, combo):
            m &= _values_mask(_column(ws, col), [v])
        mask |= m
    return mask, columns


def _condition_fold(
    ws: WindowSet, cfg: SplitConfig, train_vals: list[Any], test_vals: list[Any], name: str
) -> Split:
    train, used = _role_mask(ws, cfg, train_vals)
    test, used_test = _role_mask(ws, cfg, test_vals)
    both = train & test
    if both.any():
        rids = sorted(np.unique(ws.recording_id[both]))
        raise ConfigError(
            f"split {name!r}: recording(s) {', '.join(rids[:8])} match both train and test"
        )
    notes: list[str] = []
    cols = [_column(ws, c) for c in dict.fromkeys(used + used_test)]
    missing = np.any(np.stack([c.isna().to_numpy() for c in cols]), axis=0)
    unassigned = missing & ~train & ~test
    label = "/".join(str(c.name) for c in cols)
    if unassigned.any():
        rids = sorted(np.unique(ws.recording_id[unassigned]))
        if cfg.unassigned in ("train", "test"):
            (train if cfg.unassigned == "train" else test)[unassigned] = True
            notes.append(
                f"recordings without a {label} value ({', '.join(rids)}) were put in "
                f"{cfg.unassigned}"
            )
        elif cfg.unassigned == "distribute":
            share = len(test_vals) / (len(train_vals) + len(test_vals))
            n_test = round(len(rids) * share) if len(rids) > 1 else 0
            test_rids = rids[len(rids) - n_test :] if n_test else []
            in_test = np.isin(ws.recording_id, test_rids) & unassigned
            test |= in_test
            train |= unassigned & ~in_test
            notes.append(
                f"recordings without a {label} value ({', '.join(rids)}) were distributed: "
                f"{', '.join(test_rids) or 'none'} to test, the rest to train"
            )
        else:
            notes.append(f"recordings without a {label} value were dropped: {', '.join(rids)}")
    return Split(name, _idx(train), _idx(test), notes=notes)


def _fmt_values(values: list[Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, dict):
            return (
                "{"
                + " ".join(f"{k}={'/'.join(map(_fmt, _as_list(x)))}" for k, x in v.items())
                + "}"
            )
        return "/".join(map(_fmt, v)) if isinstance(v, list | tuple) else _fmt(v)

    return ",".join(one(v) for v in values)


def _column_label(cfg: SplitConfig) -> str:
    return "/".join(cfg.column) if isinstance(cfg.column, list) else cfg.column


def _condition(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    if not cfg.train or not cfg.test:
        raise ConfigError("split condition needs both 'train' and 'test' value lists")
    selectors = all(isinstance(v, dict) for v in [*cfg.train, *cfg.test])
    column = "" if selectors else f"{_column_label(cfg)} "
    name = f"train {column}{_fmt_values(cfg.train)} -> test {_fmt_values(cfg.test)}"
    return [_condition_fold(ws, cfg, cfg.train, cfg.test, name)]


def _distinct(ws: WindowSet, column: str | list[str]) -> list[Any]:
    """Distinct values of the column (tuples of values for several columns), sorted."""
    if not isinstance(column, list):
        return sorted(_column(ws, column).dropna().unique().tolist())
    df = pd.concat([_column(ws, c).rename(str(i)) for i, c in enumerate(column)], axis=1).dropna()
    return sorted({tuple(r) for r in df.itertuples(index=False)})


def _role_limits(ws: WindowSet, cfg: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    """leave_one_out's optional ``train`` / ``test`` selectors: which windows may train and
    which may test in every fold (e.g. train on the DE sensor, test on the FE one)."""
    limits = []
    for role, sel in (("train", cfg.train), ("test", cfg.test)):
        if sel is None:
            limits.append(np.ones(len(ws), dtype=bool))
            continue
        if not sel or not all(isinstance(v, dict) for v in sel):
            raise ConfigError(
                f"split leave_one_out: {role} must be selectors (mappings column -> value(s)) "
                f"that limit every fold's {role} windows; got {sel!r}"
            )
        limits.append(_role_mask(ws, cfg, sel)[0])
    return limits[0], limits[1]


def _leave_one_out(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    values = _distinct(ws, cfg.column)
    if len(values) < 2:
        raise ConfigError(f"split leave_one_out: column {cfg.column!r} has {len(values)} value(s)")
    label = _column_label(cfg)
    may_train, may_test = _role_limits(ws, cfg)
    folds = []
    for v in values:
        fold = _condition_fold(
            ws, cfg, [u for u in values if u != v], [v], f"test {label} {_fmt_values([v])}"
        )
        fold.train = fold.train[may_train[fold.train]]
        fold.test = fold.test[may_test[fold.test]]
        folds.append(fold)
    return folds


def _transfer(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    values = _distinct(ws, cfg.column)
    label = _column_label(cfg)
    return [
        _condition_fold(ws, cfg, [a], [b], f"{label} {_fmt_values([a])} -> {_fmt_values([b])}")
        for a in values
        for b in values
        if a != b
    ]


STRATEGIES: dict[str, Callable[[WindowSet, SplitConfig], list[Split]]] = {
    "random_window": _random_window,
    "recording": _recording,
    "group_kfold": _group_kfold,
    "condition": _condition,
    "leave_one_out": _leave_one_out,
    "transfer": _transfer,
}


# --- validation carving and checks ----------------------------------------------------------


def _val_recordings(ws: WindowSet, train: np.ndarray, cfg: SplitConfig) -> tuple[np.ndarray, str]:
    """Whole training recordings held out per class (``fraction`` of each class's recordings)."""
    rid = ws.recording_id[train]
    rec = pd.DataFrame({"rid": rid, "y": primary_labels(ws)[train]}).groupby("rid")["y"].first()
    rng = np.random.default_rng(cfg.seed)
    val_rids: list[str] = []
    for _, group in rec.groupby(rec):
        ids = sorted(group.index)
        if len(ids) >= 2:
            k = max(1, round(cfg.val.fraction * len(ids)))
            val_rids += list(rng.choice(ids, size=k, replace=False))
    return np.isin(rid, val_rids), f"{len(val_rids)} whole training recordings held out"


def _val_tail(ws: WindowSet, train: np.ndarray, cfg: SplitConfig) -> tuple[np.ndarray, str]:
    """The last ``fraction`` of each training recording's windows, contiguous."""
    rid = ws.recording_id[train]
    pos = pd.Series(ws.info["position"].to_numpy()[train])
    rank = pos.groupby(rid).rank(method="first").to_numpy() - 1
    n_per = pd.Series(rid).map(pd.Series(rid).value_counts()).to_numpy()
    is_val = rank >= np.floor(n_per * (1 - cfg.val.fraction))
    return is_val, (
        f"last {cfg.val.fraction:.0%} of each training recording (contiguous, no interleaving)"
    )


def condition_val_value(train_values: list[Any], test_values: list[Any]) -> Any:
    """The training value nearest the test values in sorted order (ties: the larger)."""
    order = sorted(set(train_values) | set(test_values))
    test_rank = [order.index(v) for v in test_values]

    def distance(v: Any) -> tuple[int, int]:
        r = order.index(v)
        return min((abs(r - t) for t in test_rank), default=0), -r

    return min(sorted(set(train_values)), key=distance)


def _val_condition(
    ws: WindowSet, train: np.ndarray, cfg: SplitConfig, test: np.ndarray
) -> tuple[np.ndarray, str] | None:
    """One training value of the column held out; None when training has a single value."""
    column = cfg.val.column or cfg.column
    if isinstance(column, list):
        raise ConfigError(
            f"split val: strategy condition holds out a value of one column; split.column is "
            f"{column}, so set val.column to one of them"
        )
    col = _column(ws, column)
    tr_col, te_col = col.iloc[train], col.iloc[test]
    train_values = sorted(tr_col.dropna().unique().tolist())
    if len(train_values) < 2:
        return None
    wanted = cfg.val.value
    if wanted is None:
        wanted = [condition_val_value(train_values, te_col.dropna().unique().tolist())]
        how = "nearest the test values"
    else:
        wanted = list(wanted) if isinstance(wanted, list | tuple) else [wanted]
        how = "configured"
    is_val = _values_mask(tr_col, wanted)
    if not is_val.any() or is_val[tr_col.notna().to_numpy()].all():
        raise ConfigError(
            f"split val: {column} = {wanted} must be some but not all of the training values "
            f"{train_values}"
        )
    text = f"training recordings with {column} = {', '.join(map(_fmt, wanted))} ({how}) held out"
    missing = tr_col.isna().to_numpy()
    if missing.any():  # no value (normal has no fault size): their tail, so val has the class
        tail, _ = _val_tail(ws, train, cfg)
        is_val |= missing & tail
        text += f"; recordings without a {column} value give their last {cfg.val.fraction:.0%}"
    return is_val, text


def carve_validation(ws: WindowSet, split: Split, cfg: SplitConfig) -> Split:
    """Move part of the training windows to validation (never touching test)."""
    strategy = cfg.val.strategy
    train = split.train
    split.val_kind = strategy
    if strategy == "none" or len(train) == 0:
        split.val_kind, split.val_description = "none", "no validation set"
        return split
    rid = ws.recording_id[train]
    if strategy == "tail" and ("position" not in ws.info or len(np.unique(rid)) == len(rid)):
        strategy = "recordings"  # one window per recording (table rows): hold out whole rows
    carved = _val_condition(ws, train, cfg, split.test) if strategy == "condition" else None
    if strategy == "condition" and carved is None:
        split.notes.append(
            f"validation: training has a single {cfg.val.column or cfg.column} value, so the "
            "condition strategy fell back to the tail of each recording"
        )
        strategy = "tail"
    if carved is None:
        carved = (_val_recordings if strategy == "recordings" else _val_tail)(ws, train, cfg)
    is_val, text = carved
    split.val_kind, split.val_description = strategy, text
    split.notes.append(f"validation: {text}")
    split.val = np.sort(train[is_val])
    split.train = np.sort(train[~is_val])
    return split


def _physical_codes(ws: WindowSet) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`WindowSet.recording_codes`, with a file read by several sources (two channels of
    one CWRU file: ``105`` and ``cwru-FE:105``) counted as ONE recording (``same_recording_as``)."""
    codes, names = ws.recording_codes()  # ids as int codes: no per-window string copies
    if "same_recording_as" not in ws.info:
        return codes, names
    first = pd.DataFrame({"id": ws.recording_id, "same": ws.info["same_recording_as"].to_numpy()})
    first = first.drop_duplicates("id").dropna()
    same = dict(zip(first["id"], first["same"]))
    physical = np.array([str(same.get(n, n)) for n in names.tolist()])
    phys_names, inverse = np.unique(physical, return_inverse=True)
    return inverse.astype(np.int32)[codes], phys_names


def check_no_leakage(split: Split, ws: WindowSet) -> None:
    """Raise LeakageError if any recording feeds both train/val and test (a file read through
    two sources or channels counts once)."""
    codes, names = _physical_codes(ws)
    fit_ids = np.unique(np.concatenate([codes[split.train], codes[split.val]]))
    shared = names[np.intersect1d(fit_ids, np.unique(codes[split.test]))].tolist()
    if shared:
        shown = ", ".join(shared[:8]) + (f" (+{len(shared) - 8} more)" if len(shared) > 8 else "")
        raise LeakageError(
            f"split {split.name!r}: {len(shared)} recording(s) feed both training and test: {shown}"
        )


def make_splits(ws: WindowSet, cfg: SplitConfig) -> list[Split]:
    """All folds of ``cfg`` (filtered by ``cfg.folds``), validated and leakage-checked."""
    splits = STRATEGIES[cfg.kind](ws, cfg)
    if cfg.folds is not None:
        wanted = {str(f) for f in cfg.folds}
        splits = [s for s in splits if s.name in wanted or s.name.split(" ")[-1] in wanted]
        if not splits:
            raise ConfigError(f"split folds {cfg.folds} match none of the folds of kind {cfg.kind}")
    rule = cfg.model_dump()
    disjoint = cfg.disjoint if cfg.disjoint is not None else cfg.kind != "random_window"
    out = []
    for s in splits:
        s.kind, s.rule = cfg.kind, rule
        if len(s.test) == 0 or len(s.train) == 0:
            absent = [n for n in ws.notes if "left out" in n]
            raise ConfigError(
                f"split {s.name!r}: empty {'test' if len(s.test) == 0 else 'train'} set"
                + (f" ({absent[0]})" if absent else "")
            )
        s = carve_validation(ws, s, cfg)
        s = carve_adaptation(ws, s, cfg)
        if disjoint:
            check_no_leakage(s, ws)
        check_adapt_roles(s, ws)
        task = ws.tasks[0]
        missing = sorted(
            set(np.unique(ws.y[task][s.test])) - set(np.unique(ws.y[task][s.train])) - {-1}
        )
        if missing:
            s.notes.append(
                "classes in test but never seen in training: "
                + ", ".join(ws.classes[task][i] for i in missing)
            )
        out.append(s)
    return out


def describe_split(split: Split, ws: WindowSet) -> str:
    """Printable summary: windows and recordings per role."""
    lines = [f"split {split.name!r} ({PROTOCOLS.get(split.kind, split.kind)})"]
    codes, _ = ws.recording_codes()
    for role, idx in split.roles().items():
        rids = np.unique(codes[idx])
        lines.append(f"  {role:<5} {len(idx):>7} windows from {len(rids):>3} recordings")
    lines += [f"  note: {n}" for n in dict.fromkeys([*ws.notes, *split.notes])]
    return "\n".join(lines)
