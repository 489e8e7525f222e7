"""The order-domain squared envelope spectrum: the representation a bearing analyst reads.

Windows ``[n, C, L]`` -> ``[n, C, K]``: squared envelope spectrum of the demodulation band
(:mod:`faultlab.signals.envelope`), divided by its own median level (so it reads "times
above the floor", whatever the sensor gain or load), placed either on a fixed **order axis**
(``axis: order``: orders ``resolution .. max_order`` of each window's shaft speed) or on the
bearing-normalised **defect axis** (``axis: defect``: ``offsets`` orders around ``k x`` shaft,
FTF, BSF, BPFO and BPFI, ``k = 1..harmonics``, read from each window's own bearing), so
neither speed, sampling rate, window length nor (on the defect axis) the bearing moves
the input. Vectorised over windows; no per-window loop.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from faultlab.features.defect_contrast import contrast_names, defect_contrast
from faultlab.features.defect_contrast import max_order as contrast_max_order
from faultlab.features.periodicity import (
    fault_families,
    periodicity_names,
    relative_offsets,
    sample_periodicity,
)
from faultlab.signals.envelope import BAND_METHODS, envelope_spectra
from faultlab.signals.geometry import FAMILIES
from faultlab.signals.orders import (
    defect_axis_names,
    defect_grid,
    groups_of,
    lerp,
    lerp_plan,
    order_grid,
)
from faultlab.utils.fft import get_workers
from faultlab.utils.order_stats import median_last
from faultlab.utils.validation import validate

#: Orders below this are not used for the floor (the envelope's own DC skirt).
FLOOR_MIN_ORDER = 0.5


class OrderEnvelopeConfig(BaseModel):
    """Options of the order-domain envelope front end (``frontend: {kind: order_envelope}``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["order_envelope"] = "order_envelope"
    axis: Literal["order", "defect"] = "defect"
    band: str | tuple[float, float] = Field(
        default="cpw", description="cpw | kurtogram | none | [lo_hz, hi_hz]"
    )
    kurtogram_levels: int = Field(default=3, ge=1, le=6)
    max_order: float = Field(default=20.0, gt=1, description="order axis: highest order")
    resolution: float = Field(default=0.05, gt=0, description="order axis: step in orders")
    families: tuple[str, ...] = FAMILIES
    harmonics: int = Field(default=4, ge=1, le=10, description="defect axis: k = 1..harmonics")
    half_width: float = Field(
        default=1.2, ge=0, description="defect axis: +- orders around each line"
    )
    step: float = Field(default=0.1, gt=0, description="defect axis: step of the offsets (orders)")
    zero_pad: int = Field(default=2, ge=1, le=8, description="FFT length = zero_pad x window")
    taper: Literal["hann", "none"] = Field(
        default="hann", description="window on the squared envelope"
    )
    scale: Literal["log", "linear"] = "log"
    rpm: float | None = Field(default=None, gt=0, description="fixed shaft speed for every window")
    rpm_range: tuple[float, float] = (600.0, 4000.0)
    chunk_size: int = Field(default=4096, ge=1)
    periodicity: int = Field(
        default=0,
        ge=0,
        le=6,
        description="append the squared envelope's autocorrelation at 1..N x each fault "
        "family's impact period (0: off; see features.periodicity)",
    )
    periodicity_band: str | tuple[float, float] = Field(
        default="none", description="band of the envelope whose autocorrelation is read"
    )
    periodicity_span: float = Field(default=0.12, gt=0, le=0.5, description="+- relative lag")
    periodicity_step: float = Field(default=0.02, gt=0, description="step of the relative lag")
    contrast: bool = Field(
        default=False,
        description="append each fault family's line and period evidence as a robust z "
        "against decoy orders of the same window, and log kurtosis (features.defect_contrast)",
    )
    contrast_step: float = Field(
        default=0.05, gt=0, le=0.5, description="spacing of the decoy orders"
    )

    @field_validator("band", "periodicity_band", mode="before")
    @classmethod
    def _band(cls, v: Any) -> Any:
        if isinstance(v, str) and v not in BAND_METHODS:
            raise ValueError(f"band {v!r}: choose one of {BAND_METHODS} or [lo_hz, hi_hz]")
        if isinstance(v, (list, tuple)) and (len(v) != 2 or not 0 <= float(v[0]) < float(v[1])):
            raise ValueError(f"band {list(v)}: need [lo_hz, hi_hz] with 0 <= lo < hi")
        return v

    @field_validator("families")
    @classmethod
    def _families(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [f for f in v if f not in FAMILIES]
        if bad or not v:
            raise ValueError(f"families {list(v)}: choose from {list(FAMILIES)}")
        return tuple(v)

    @model_validator(mode="after")
    def _periodicity_families(self) -> OrderEnvelopeConfig:
        if (self.periodicity or self.contrast) and not fault_families(self.families):
            raise ValueError(
                "periodicity / contrast need at least one of BPFI, BSF, BPFO in families"
            )
        return self

    @property
    def offsets(self) -> np.ndarray:
        n = int(round(self.half_width / self.step))
        return np.arange(-n, n + 1) * self.step

    def grid(self) -> np.ndarray:
        return order_grid(self.max_order, self.resolution)

    @property
    def lag_offsets(self) -> np.ndarray:
        return relative_offsets(self.periodicity_span, self.periodicity_step)

    @property
    def needs_orders(self) -> bool:
        """Whether the transform reads each window's defect orders."""
        return self.axis == "defect" or self.periodicity > 0 or self.contrast

    def spectrum_names(self) -> list[str]:
        return list(self._blocks()[0])

    def periodicity_names(self) -> list[str]:
        return list(self._blocks()[1])

    def contrast_names(self) -> list[str]:
        return list(self._blocks()[2])

    def names(self) -> list[str]:
        """Output columns: the spectrum block, then the periodicity and contrast blocks."""
        return [name for block in self._blocks() for name in block]

    def _blocks(self) -> tuple[tuple[str, ...], ...]:
        """The three blocks' names, built once per layout (hundreds of formatted names; the
        front end asks for their lengths on every block of windows)."""
        return _name_blocks(
            self.axis,
            self.max_order,
            self.resolution,
            self.families,
            self.harmonics,
            self.half_width,
            self.step,
            self.periodicity,
            self.periodicity_span,
            self.periodicity_step,
            self.contrast,
        )

    @property
    def n_outputs(self) -> int:
        return sum(len(block) for block in self._blocks())


@functools.lru_cache(maxsize=64)
def _name_blocks(
    axis: str,
    max_order: float,
    resolution: float,
    families: tuple[str, ...],
    harmonics: int,
    half_width: float,
    step: float,
    periodicity: int,
    periodicity_span: float,
    periodicity_step: float,
    contrast: bool,
) -> tuple[tuple[str, ...], ...]:
    """Names of the spectrum, periodicity and contrast blocks of one layout."""
    if axis == "order":
        spectrum = [f"o{o:.2f}" for o in order_grid(max_order, resolution)]
    else:
        n = int(round(half_width / step))
        spectrum = defect_axis_names(families, harmonics, np.arange(-n, n + 1) * step)
    lags = relative_offsets(periodicity_span, periodicity_step)
    per = periodicity_names(families, periodicity, lags) if periodicity else []
    return tuple(spectrum), tuple(per), tuple(contrast_names(families) if contrast else [])


def parse_config(options: dict[str, Any] | None, where: str = "frontend") -> OrderEnvelopeConfig:
    """Validate a plain dict; errors name the key in one line."""
    return validate(OrderEnvelopeConfig, options or {}, where)


#: Windows per pass: the FFT stage's buffers (~40 kB a window) stay in cache. Outputs do not
#: depend on it (nor on ``chunk_size``, the upper bound a user sets for memory).
BLOCK = 512


def order_envelope(
    X: np.ndarray,
    sampling_rate: float,
    shaft_hz: np.ndarray,
    family_orders: np.ndarray | None,
    cfg: OrderEnvelopeConfig,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(Y [n, C, K] float32, band_hz [n, C, 2])`` for windows ``X [n, C, L]``.

    ``shaft_hz [n]``: each window's shaft speed; ``family_orders [n, C, F]``: each window's
    (channel's) orders of ``cfg.families`` (needed for ``axis: defect``, ``periodicity`` or
    ``contrast``). The periodicity block (if on) is appended after the spectrum block,
    unscaled (autocorrelation in [-1, 1]), then the contrast block (robust z-scores).
    ``workers``: threads sharing the blocks of windows (default: ``scipy.fft``'s workers,
    1 unless set with ``scipy.fft.set_workers``).
    """
    X = np.asarray(X)
    n, C, _ = X.shape
    Y = np.empty((n, C, cfg.n_outputs), dtype=np.float32)
    band_hz = np.empty((n, C, 2), dtype=np.float32)
    if cfg.needs_orders and family_orders is None:
        raise ValueError(
            "order_envelope: family_orders needed for axis defect / periodicity / contrast"
        )
    shaft_hz = np.asarray(shaft_hz, dtype=np.float64)
    step = min(cfg.chunk_size, BLOCK)

    def run(a: int) -> None:
        b = min(n, a + step)
        fo = None if family_orders is None else np.asarray(family_orders[a:b], np.float64)
        Y[a:b], band_hz[a:b] = _chunk(X[a:b], sampling_rate, shaft_hz[a:b], fo, cfg)

    starts = range(0, n, step)
    threads = min(get_workers() if workers is None else workers, len(starts))
    if threads > 1:  # numpy and the FFTs release the GIL: blocks run side by side
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, starts))
    else:
        for a in starts:
            run(a)
    return Y, band_hz


def _chunk(
    X: np.ndarray,
    sampling_rate: float,
    shaft_hz: np.ndarray,
    fo: np.ndarray | None,
    cfg: OrderEnvelopeConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """One block of :func:`order_envelope`, one recording (speed, bearing) at a time."""
    n, C, L = X.shape
    Y = np.empty((n, C, cfg.n_outputs), dtype=np.float32)
    K_spec, K_per = len(cfg.spectrum_names()), len(cfg.periodicity_names())
    nfft = cfg.zero_pad * L
    S, band_hz, acf = envelope_spectra(
        X,
        sampling_rate,
        _band(cfg.band),
        nfft,
        cfg.kurtogram_levels,
        cfg.taper,
        acf_band=_band(cfg.periodicity_band) if cfg.periodicity or cfg.contrast else None,
        n_bins=_bins_read(cfg, sampling_rate, nfft, shaft_hz, fo),
    )
    key = (
        shaft_hz[:, None]
        if fo is None
        else np.concatenate([shaft_hz[:, None], fo.reshape(n, -1)], axis=1)
    )
    for rows, first in groups_of(key):  # one step per recording (speed, bearing)
        fr = shaft_hz[first]
        orders = None if fo is None else fo[first]
        Y[rows, :, :K_spec] = _spectrum_block(S[rows], sampling_rate, nfft, fr, orders, cfg)
        if acf is None or orders is None:  # periodicity/contrast need orders (checked above)
            continue
        if cfg.periodicity:
            Y[rows, :, K_spec : K_spec + K_per] = sample_periodicity(
                acf[rows],
                sampling_rate,
                fr,
                orders,
                cfg.families,
                cfg.periodicity,
                cfg.lag_offsets,
            )
        if cfg.contrast:
            Y[rows, :, K_spec + K_per :] = defect_contrast(
                X[rows],
                S[rows],
                acf[rows],
                sampling_rate,
                nfft,
                fr,
                orders,
                cfg.families,
                cfg.contrast_step,
            )
    return Y, band_hz


def _bins_read(
    cfg: OrderEnvelopeConfig,
    sampling_rate: float,
    nfft: int,
    shaft_hz: np.ndarray,
    fo: np.ndarray | None,
) -> int:
    """How many bins of the envelope spectrum a block's reads reach (at most its highest
    order x its fastest shaft): a 1024-sample window at 12 kHz reads ~120 of 1025 bins,
    so only those are kept."""
    top = cfg.max_order
    if fo is not None and cfg.axis == "defect":
        top = max(top, float(fo.max()) * cfg.harmonics + float(np.abs(cfg.offsets).max()))
    if fo is not None and cfg.contrast:
        fo2 = fo.reshape(-1, fo.shape[-1])
        top = max(top, contrast_max_order(fo2, cfg.families, cfg.contrast_step))
    return int(np.ceil(top * float(shaft_hz.max()) * nfft / sampling_rate)) + 3


def _spectrum_block(
    S: np.ndarray,
    sampling_rate: float,
    nfft: int,
    shaft_hz: float,
    family_orders: np.ndarray | None,
    cfg: OrderEnvelopeConfig,
) -> np.ndarray:
    """Squared envelope spectra ``S`` of windows at one shaft speed on the config's axis,
    over their floor (the median on the order grid above ``FLOOR_MIN_ORDER``), scaled.
    ``S`` may hold only the first bins (those read) of the ``nfft // 2 + 1``."""
    n, C, _ = S.shape
    grid = cfg.grid()
    above = grid >= FLOOR_MIN_ORDER
    scale = float(shaft_hz) * nfft / sampling_rate
    n_bins = nfft // 2 + 1
    if cfg.axis == "order":
        orders = np.broadcast_to(grid, (C, len(grid)))
    else:
        assert family_orders is not None  # axis defect without family_orders raised above
        orders = defect_grid(family_orders, cfg.harmonics, cfg.offsets)
        orders = np.broadcast_to(orders, (C, orders.shape[-1]))
    out = np.empty((n, C, orders.shape[-1]), np.float32)
    for c in range(C):  # channels: a handful
        on_grid = lerp(S[:, c], lerp_plan(grid[above] * scale, n_bins))
        floor = np.maximum(median_last(on_grid), 1e-20)
        out[:, c] = lerp(S[:, c], lerp_plan(orders[c] * scale, n_bins))
        out[:, c] /= floor[:, None]
    return np.log1p(out, out=out) if cfg.scale == "log" else out


def _band(band: str | tuple[float, float]) -> str | tuple[float, float]:
    return (band[0], band[1]) if isinstance(band, (list, tuple)) else band


def mean_order_spectrum(
    X: np.ndarray,
    sampling_rate: float,
    rpm: np.ndarray,
    max_order: float = 12.0,
    band: str | tuple[float, float] = "cpw",
) -> tuple[np.ndarray, np.ndarray]:
    """``(orders, mean squared envelope spectrum [K])`` over windows ``X``, times the floor.

    For evidence plots: the mean over windows and channels on the order axis 0.05 ..
    ``max_order``.
    """
    cfg = OrderEnvelopeConfig(axis="order", scale="linear", max_order=max_order, band=band)
    Y, _ = order_envelope(
        np.asarray(X, np.float32), sampling_rate, np.asarray(rpm, float) / 60.0, None, cfg
    )
    return cfg.grid(), Y.mean(axis=(0, 1))


def class_evidence(
    X: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    sampling_rate: float,
    rpm: np.ndarray,
    bearing: str,
    task: str,
    max_order: float = 12.0,
) -> dict[str, Any]:
    """Per class: the mean order-domain squared envelope spectrum, plus the bearing's defect
    orders, as JSON for the report's evidence plot (``evidence.json`` in a run directory)."""
    from faultlab.signals.geometry import defect_orders

    out: dict[str, Any] = {
        "task": task,
        "bearing": bearing,
        "band": "cpw",
        "defect_orders": defect_orders(bearing),
        "classes": {},
    }
    for i, name in enumerate(class_names):
        rows = np.flatnonzero(labels == i)
        if rows.size == 0:
            continue
        orders, mean = mean_order_spectrum(X[rows], sampling_rate, rpm[rows], max_order)
        out["orders"] = [round(float(o), 4) for o in orders]
        out["classes"][name] = {
            "n_windows": int(rows.size),
            "spectrum": [round(float(v), 4) for v in mean],
        }
    return out
