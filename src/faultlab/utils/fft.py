"""``scipy.fft`` with numpy return types, and single-precision batch FFTs by torch.

scipy's FFTs go through uarray dispatch, which type checkers see as returning a tuple of
``Dispatchable``; these wrappers say what they return and add nothing else.

``rfft32`` / ``irfft32`` / ``ifft32``: the same transforms (last axis, unnormalised forward,
``1 / n`` inverse) of float32 / complex64 batches, computed by ``torch.fft``. Why: on x86
torch's CPU FFT is MKL's, 1.5-2x scipy's pocketfft on batches of 1-2k-point transforms
(the project's 2-core machine, loaded, batches of 512, 1 thread, interleaved: rfft of 2048
points 3.7 vs 7.6 us, irfft 3.6 vs 7.7 us, complex 1024 points 4.2 vs 6.7 us a
transform), and the order-domain envelope front end is mostly such FFTs. torch is a core
dependency already; it is imported on the first call. The numbers differ from pocketfft's
in the last bits (equally accurate against float64), and each transform comes out the same
whatever the batch it sits in, so outputs do not depend on how a caller splits its windows
nor on torch's intra-op threads (``torch.set_num_threads``), which run these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt
import scipy.fft

if TYPE_CHECKING:
    import torch

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


def _tensor(x: np.ndarray, dtype: type) -> torch.Tensor:
    """``x`` as a torch tensor sharing its memory (a copy if it is read-only, e.g. a
    memory-mapped store, or not of ``dtype``)."""
    import torch

    x = np.asarray(x)
    if x.dtype != dtype or not x.flags.writeable or any(s < 0 for s in x.strides):
        x = np.array(x, dtype=dtype)
    return torch.from_numpy(x)


def rfft32(x: np.ndarray, n: int | None = None) -> Complex:
    """``rfft(x, n)`` over the last axis, float32 in, complex64 out (torch)."""
    import torch

    return cast(Complex, torch.fft.rfft(_tensor(x, np.float32), n=n, dim=-1).numpy())


def irfft32(x: np.ndarray, n: int | None = None) -> Real:
    """``irfft(x, n)`` over the last axis, complex64 in, float32 out (torch)."""
    import torch

    return cast(Real, torch.fft.irfft(_tensor(x, np.complex64), n=n, dim=-1).numpy())


def ifft32(x: np.ndarray, n: int | None = None) -> Complex:
    """``ifft(x, n)`` over the last axis, complex64 in and out (torch)."""
    import torch

    return cast(Complex, torch.fft.ifft(_tensor(x, np.complex64), n=n, dim=-1).numpy())
