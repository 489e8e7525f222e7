"""What a consumer of a model needs to know about it (served at ``/model``, written into
``export/metadata.json``): below both ``predict`` and ``export``, which both use it."""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path
from typing import Any

from faultlab.contracts import MODEL_DIR
from faultlab.serving.preprocess import Preprocessing


def model_fingerprint(run_dir: Path) -> str:
    """sha256 (16 hex digits) of the run's model.json and weight files: same model, same value."""
    digest = hashlib.sha256()
    model_dir = Path(run_dir) / MODEL_DIR
    for f in sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def model_metadata(
    run_dir: Path | None, pre: Preprocessing, model_info: dict[str, Any]
) -> dict[str, Any]:
    """What a consumer of the model needs: classes, input, preprocessing, versions."""
    from faultlab.version import __version__

    classes = {t: list(c) for t, c in model_info["classes"].items()}
    return {
        "model": model_info.get("name"),
        "params": model_info.get("params", {}),
        "tasks": list(classes),
        "classes": classes,
        "input": {"name": "windows", "shape": ["batch", *pre.input_shape], "dtype": "float32"},
        "outputs": {t: f"proba_{t}" for t in classes},
        "window": pre.window,
        "stride": pre.stride,
        "sampling_rate": pre.rate,
        "channels": pre.channels,
        "preprocessing": pre.to_dict(),
        "verdict": "soft vote: the class with the highest mean window probability",
        # the run's folder name and a fingerprint of its model, never an absolute path: this
        # dict is served at /model and shipped in export metadata
        "run": Path(run_dir).resolve().name if run_dir is not None else None,
        "model_fingerprint": model_fingerprint(run_dir) if run_dir is not None else None,
        "faultlab_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
