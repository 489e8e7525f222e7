"""``.mat`` files: v4-v7 through scipy, v7.3 (HDF5) through h5py, flattened to dotted
numeric keys (struct fields ``bearing.gs``, char fields holding a number as scalars)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.errors import DataError


def _numeric(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _text_number(text: str) -> np.ndarray | None:
    """MATLAB char fields that hold a number (MFPT stores ``load`` as ``'25'``) -> a scalar."""
    try:
        return np.asarray([[float(text.strip())]])
    except (TypeError, ValueError):
        return None


def _flatten(name: str, value: Any, out: dict[str, np.ndarray]) -> None:
    """Numeric variables of a v5 file, struct fields as ``struct.field`` (nested: ``a.b.c``).

    A struct array of several elements gives ``name[i].field``; cells are skipped.
    """
    arr = np.asarray(value)
    if arr.dtype.names:  # a struct (scipy's default struct_as_record=True)
        items = list(arr.flat)
        for i, item in enumerate(items):
            base = name if len(items) == 1 else f"{name}[{i}]"
            for field in arr.dtype.names:
                _flatten(f"{base}.{field}", item[field], out)
    elif arr.dtype.kind == "O":
        if arr.size == 1 and isinstance(arr.flat[0], np.ndarray) and arr.flat[0].dtype.names:
            _flatten(name, arr.flat[0], out)
    elif arr.dtype.kind in "US" and arr.size == 1:
        number = _text_number(str(arr.flat[0]))
        if number is not None:
            out[name] = number
    elif _numeric(arr):
        out[name] = arr


def _h5_class(obj: Any) -> str:
    kind = obj.attrs.get("MATLAB_class", b"")
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def _walk_h5(group: Any, prefix: str, out: dict[str, np.ndarray]) -> None:
    """v7.3 (HDF5): structs are groups; numeric datasets are stored transposed."""
    import h5py

    for name, obj in group.items():
        if name.startswith("#"):
            continue
        key = f"{prefix}{name}"
        if isinstance(obj, h5py.Group):
            _walk_h5(obj, f"{key}.", out)
            continue
        kind = _h5_class(obj)
        if kind == "char" and obj.dtype.kind in "iu":
            number = _text_number("".join(map(chr, np.asarray(obj[()]).ravel())))
            if number is not None:
                out[key] = number
        elif obj.dtype.kind in "biuf" and kind not in ("cell", "struct"):
            out[key] = np.asarray(obj[()]).T


def _load_mat73(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as fh:
            _walk_h5(fh, "", out)
    except Exception as exc:  # h5py raises OSError/KeyError/... on damaged files
        raise DataError(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({exc})") from None
    return out


def _is_hdf5(path: Path) -> bool:
    with path.open("rb") as fh:  # MATLAB v7.3 puts the HDF5 signature at byte 512
        head = fh.read(520)
    return head[:8] == b"\x89HDF\r\n\x1a\n" or head[512:520] == b"\x89HDF\r\n\x1a\n"


def load_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All numeric variables of a ``.mat`` file (v4-v7 via scipy, v7.3 via h5py).

    Struct fields are flattened to dotted keys (``bearing.gs``, ``bearing.sr``; nested
    ``a.b.c``), and char fields holding a number become scalars. A missing, corrupt or
    truncated file is a DataError naming it.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if _is_hdf5(path):
        return _load_mat73(path)
    try:
        raw = scipy.io.loadmat(path)
    except NotImplementedError:  # v7.3 whose HDF5 signature was not spotted
        return _load_mat73(path)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/MatReadError
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise DataError(f"{path}: not a readable .mat file (corrupt or truncated: {msg})") from None
    out: dict[str, np.ndarray] = {}
    for k, v in raw.items():
        if not k.startswith("__"):
            _flatten(k, v, out)
    return out
