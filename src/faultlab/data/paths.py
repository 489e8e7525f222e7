"""Where datasets live: ``--data-dir`` > ``$FAULTLAB_DATA_DIR`` > the user's cache dir.

The data directory holds one folder per dataset (``cwru/<number>.mat``), so pointing
``FAULTLAB_DATA_DIR`` at ``../shared/data`` uses the shared copy as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "FAULTLAB_DATA_DIR"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("faultlab")) / "data"


def dataset_dir(dataset: str, explicit: str | os.PathLike | None = None) -> Path:
    return data_dir(explicit) / dataset
