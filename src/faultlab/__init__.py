"""faultlab: leakage-free training, comparison, reporting and deployment of fault classifiers.

The public Python API (imported on first use, so ``import faultlab`` stays fast)::

    import faultlab
    ws = faultlab.load_windows(dataset="cwru", window=1024)    # WindowSet: X, y, meta, groups
    folds = faultlab.splits(ws, kind="leave_one_out")           # leakage-checked folds
    result = faultlab.run("configs/cwru-quick.yaml")            # in memory unless out=...
    model = faultlab.load_run("runs/cnn/test-load_hp-3")        # predicts on raw recordings
    clf = faultlab.FaultClassifier(model="cnn1d", epochs=3)     # a scikit-learn estimator

See docs/python-api.md for a walk-through.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from faultlab.version import __version__

#: public name -> module that defines it
_LAZY = {
    "load_windows": "faultlab.api",
    "splits": "faultlab.api",
    "run": "faultlab.api",
    "load_run": "faultlab.api",
    "RunResult": "faultlab.api",
    "FaultClassifier": "faultlab.estimator",
    "WindowSet": "faultlab.data.types",
    "Split": "faultlab.data.types",
}

if TYPE_CHECKING:  # the names of _LAZY, for static checkers (imported on first use)
    from faultlab.api import RunResult, load_run, load_windows, run, splits
    from faultlab.data.types import Split, WindowSet
    from faultlab.estimator import FaultClassifier

__all__ = [  # "__version__" and the names of _LAZY
    "__version__",
    "load_windows",
    "splits",
    "run",
    "load_run",
    "RunResult",
    "FaultClassifier",
    "WindowSet",
    "Split",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # next access skips __getattr__
        return value
    raise AttributeError(f"module 'faultlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
