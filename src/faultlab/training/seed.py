"""Seeds and RNG state: one call seeds python, numpy and torch; states round-trip through
checkpoints so a resumed run draws the same random numbers as an uninterrupted one."""

from __future__ import annotations

import os
import random
from typing import Any, cast

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python/numpy/torch (all devices); ``deterministic`` also asks torch for
    deterministic kernels (slower on GPU; a kernel without one raises instead of drifting)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def get_rng_state() -> dict[str, Any]:
    """Every global RNG state (python, numpy, torch CPU and CUDA) for a checkpoint.

    Only tensors and plain containers of numbers and strings: checkpoints are read with
    ``torch.load(weights_only=True)``, which refuses anything that could run code.
    """
    version, internal, gauss = random.getstate()
    np_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    name, keys, pos, has_gauss, cached = np_state
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py, npy = state["python"], state["numpy"]
    internal = tuple(int(v) for v in py["internal"].tolist())
    random.setstate((int(py["version"]), internal, py["gauss"]))
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state(
        (npy["name"], keys, int(npy["pos"]), int(npy["has_gauss"]), float(npy["cached"]))
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
