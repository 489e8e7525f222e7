"""``scipy.fft`` with numpy return types.

scipy's FFTs go through uarray dispatch, which type checkers see as returning a tuple of
``Dispatchable``; these wrappers say what they return and add nothing else.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt
import scipy.fft

Complex = npt.NDArray[np.complexfloating]
Real = npt.NDArray[np.floating]


def rfft(x: np.ndarray, n: int | None = None, axis: int = -1) -> Complex:
    return cast(Complex, scipy.fft.rfft(x, n=n, axis=axis))


def irfft(x: np.ndarray, n: int | None = None, axis: int = -1) -> Real:
    return cast(Real, scipy.fft.irfft(x, n=n, axis=axis))


def ifft(x: np.ndarray, n: int | None = None, axis: int = -1, overwrite_x: bool = False) -> Complex:
    return cast(Complex, scipy.fft.ifft(x, n=n, axis=axis, overwrite_x=overwrite_x))


def get_workers() -> int:
    """Threads ``scipy.fft`` uses here (``scipy.fft.set_workers`` sets it for a block)."""
    return int(scipy.fft.get_workers())
