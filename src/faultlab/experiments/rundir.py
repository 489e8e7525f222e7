"""The run directory: one folder per (model, fold, seed) with fixed file names."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from faultlab.contracts import (  # noqa: F401  (the run directory's names, re-exported)
    CHECKPOINT,
    CONFIG,
    DONE,
    EVIDENCE,
    HISTORY,
    METRICS,
    MODEL_DIR,
    MODEL_JSON,
    PLOTS,
    PREPROCESS,
    REPORT_HTML,
    REPORT_MD,
    SPLIT,
    SUMMARY,
    read_history,
)
from faultlab.errors import ConfigError
from faultlab.utils.io import set_aside


def slug(text: str) -> str:
    """A folder-safe name for a fold or model label ("test load_hp 3" -> "test-load_hp-3")."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", str(text)).strip("-") or "run"


#: Config keys that do not change a run's results (paths, progress bars, threads, resume, the
#: benchmark's display name, fold selection): a rerun that differs only in these is the same.
IGNORED_KEYS = (
    "name",
    "data.data_dir",
    "data.download",
    "split.folds",
    "training.progress",
    "training.resume",
    "training.num_threads",
    "training.device",
    "training.checkpoint_every",
)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _readable_json(path: Path) -> bool:
    return isinstance(_load_json(path), dict)


def is_complete(run_dir: Path) -> bool:
    """Finished: ``done.json`` and ``metrics.json`` both read back as JSON.

    A run directory from a version before ``done.json`` (its metrics.json has no
    ``config_hash``) counts as finished when metrics.json reads back and report.md and
    report.html are there.
    """
    run_dir = Path(run_dir)
    metrics = _load_json(run_dir / METRICS)
    if not isinstance(metrics, dict):
        return False
    if (run_dir / DONE).exists():
        return _readable_json(run_dir / DONE)
    if "config_hash" in (metrics.get("run") or {}):
        return False  # this version's run, stopped before its report was written
    return (run_dir / REPORT_MD).is_file() and (run_dir / REPORT_HTML).is_file()


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.update(flatten(v, key) if isinstance(v, dict) and v else {key: v})
    return out


def _canonical(value: Any) -> Any:
    """Whole floats as ints (``2.0`` -> ``2``), in lists too: a typed block stores the
    ``duration_s: 2`` a user wrote (and an older config.yaml holds) as 2.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _relevant(config: dict[str, Any]) -> dict[str, Any]:
    flat = flatten(config)
    return {
        k: _canonical(v)
        for k, v in flat.items()
        if not any(k == i or k.startswith(i + ".") for i in IGNORED_KEYS)
    }


def config_hash(config: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of the result-relevant part of an effective config."""
    text = json.dumps(_relevant(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every result-relevant key that differs."""
    a, b = _relevant(old), _relevant(new)
    out = []
    for k in sorted(set(a) | set(b)):
        if json.dumps(a.get(k), default=str) != json.dumps(b.get(k), default=str):
            out.append(f"{k}: {_short(a.get(k, '(unset)'))} -> {_short(b.get(k, '(unset)'))}")
    return out


def _short(v: Any) -> str:
    text = json.dumps(v, default=str) if not isinstance(v, str) else v
    return text if len(text) <= 40 else text[:37] + "..."


def stored_config(run_dir: Path) -> dict[str, Any] | None:
    """The effective config a run was started with (None: none, or unreadable)."""
    path = Path(run_dir) / CONFIG
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def config_changes(run_dir: Path, config: dict[str, Any]) -> list[str]:
    """Keys by which ``config`` differs from the one ``run_dir`` ran with ([] = same/none)."""
    old = stored_config(run_dir)
    return [] if old is None else changed_keys(old, config)


def unfinish(run_dir: Path, reason: str = ".corrupt") -> list[str]:
    """Make a run unfinished without losing anything: its marker, metrics and checkpoint are
    renamed ``*<reason>`` (so they are neither read nor resumed); returns what was moved."""
    moved = []
    for name in (DONE, METRICS, CHECKPOINT):
        target = set_aside(Path(run_dir) / name, reason)
        if target is not None:
            moved.append(target.name)
    return moved


def remove_stale_temps(run_dir: Path) -> int:
    """Delete the temporary files of atomic writes a killed process left (``.NAME.*.tmp``):
    never a finished artefact, only a write that did not complete."""
    stale = [p for p in Path(run_dir).rglob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def corrupt_artefacts(run_dir: Path) -> list[str]:
    """Files of an unfinished run that exist but cannot be read back (0 bytes, bad JSON)."""
    run_dir = Path(run_dir)
    bad = []
    for name in (METRICS, DONE):
        path = run_dir / name
        if path.exists() and not _readable_json(path):
            bad.append(name)
    ckpt = run_dir / CHECKPOINT
    if ckpt.exists() and ckpt.stat().st_size == 0:
        bad.append(CHECKPOINT)
    return bad


def read_json(run_dir: Path, name: str) -> dict[str, Any]:
    path = Path(run_dir) / name
    if not path.exists():
        raise ConfigError(f"{path}: missing (is {run_dir} a faultlab run directory?)")
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{path}: unreadable ({type(exc).__name__}); rerun this run") from None


def plan(run_dir: Path, config: dict[str, Any], rerun_changed: bool = False, log=print) -> str:
    """What to do with one run directory: ``skip`` (finished, same config), ``resume`` (an
    unfinished run with a checkpoint of the same config) or ``run``.

    Unreadable artefacts (a truncated metrics.json, a 0-byte checkpoint) make the run
    unfinished: they are renamed ``*.corrupt`` (kept, not deleted) and the run is redone. A
    finished run whose config differs raises a ConfigError naming the changed keys, unless
    ``rerun_changed``: then its results are renamed ``*.replaced`` and it is run again.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "run"
    remove_stale_temps(run_dir)
    bad = corrupt_artefacts(run_dir)
    if bad:
        moved = unfinish(run_dir, ".corrupt")
        log(f"  {run_dir}: unreadable {', '.join(bad)}; kept as {', '.join(moved)}, rerunning")
    changes = config_changes(run_dir, config)
    if is_complete(run_dir):
        if not changes:
            return "skip"
        if not rerun_changed:
            raise ConfigError(
                f"{run_dir}: finished with a different config ({'; '.join(changes[:6])}"
                f"{'; ...' if len(changes) > 6 else ''}); rerun with --rerun-changed to redo "
                "such runs (old results kept as *.replaced), or choose another --out"
            )
        moved = unfinish(run_dir, ".replaced")
        log(
            f"  {run_dir}: config changed ({'; '.join(changes[:6])}); rerunning "
            f"(old {', '.join(moved)} kept)"
        )
        return "run"
    if changes and (run_dir / CHECKPOINT).exists():
        unfinish(run_dir, ".replaced")
        log(
            f"  {run_dir}: checkpoint of a different config ({'; '.join(changes[:6])}) kept "
            "as checkpoint.pt.replaced; training from scratch"
        )
    return "resume" if (run_dir / CHECKPOINT).exists() else "run"
