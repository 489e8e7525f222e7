"""Physics-based synthetic bearing vibration: localised faults as resonance-ringing impacts.

Why: a generator whose fault frequencies are known exactly lets the pipeline (windowing,
models, envelope features, splits) be tested without the CWRU files, and lets a user vary
SNR, slip or resonance to see what a model relies on.

Model of one drive-end recording (``Recording.signal`` ``[1, n]``, channel ``DE``):

- shaft frequency ``fr = rpm / 60`` (nominal rpm per motor load, as in the CWRU rig);
- a localised defect is struck at its characteristic frequency (``faultlab.data.bearings``):
  outer race BPFO, inner race BPFI, ball ``2 x BSF`` (a ball spot hits both races per spin);
  the intervals between impacts carry random slip jitter (``slip_jitter_pct``, 1-2 % real);
- each impact excites a structural resonance: a decaying sinusoid ``exp(-z wn t) sin(wd t)``
  (the impulse train, a sparse array, is filtered by the exact two-pole IIR of that
  response, so there is no per-impulse loop over samples);
- impact amplitude grows with fault size and load, and is modulated by where the defect is:
  IR passes the load zone once per revolution (``1 + m cos(2 pi fr t)``), a ball spot
  follows the cage (``1 + m cos(2 pi FTF t)``), an OR@6 defect sits in the load zone
  (no modulation);
- every recording (normal included) has 1x and 2x shaft harmonics (residual unbalance /
  misalignment); normal = shaft harmonics + noise;
- white gaussian noise at ``snr_db`` relative to the power of the clean signal.

Each recording draws from its own generator seeded by ``(seed, recording_id)``, so a
recording is identical whatever else is generated with it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import signal as sps

from faultlab.data.bearings import BEARINGS
from faultlab.data.types import Recording
from faultlab.limits import RATE_MIN_HZ, RPM_MAX, RPM_MIN
from faultlab.utils.validation import validate

#: Generator bounds: the sampling rate, samples per recording and samples in all.
SYNTH_MAX_RATE = 1e6
SYNTH_MAX_SAMPLES = 1_000_000
SYNTH_MAX_TOTAL = 50_000_000

#: Fault size (inches) whose impacts have amplitude ``fault_amplitude``.
REFERENCE_SIZE_IN = 0.007


@dataclass(frozen=True)
class FaultKinematics:
    """How a defect at one location shows up: impact frequency and amplitude modulation."""

    order: str  # key of BearingGeometry.orders()
    multiple: float  # impacts per period of that order
    modulation: str | None  # "shaft", a key of orders(), or None (stationary)
    meta_location: str  # fault_location written to Recording.meta


#: Registry: fault location -> kinematics (CWRU outer-race faults are centred at 6:00).
FAULTS: dict[str, FaultKinematics] = {
    "IR": FaultKinematics("BPFI", 1.0, "shaft", "IR"),
    "B": FaultKinematics("BSF", 2.0, "FTF", "B"),
    "OR": FaultKinematics("BPFO", 1.0, None, "OR@6"),
}


class SyntheticConfig(BaseModel):
    """Everything the generator needs (``DataConfig.synthetic``)."""

    model_config = ConfigDict(extra="forbid")

    sampling_rate: float = Field(
        default=12000.0, ge=RATE_MIN_HZ, le=SYNTH_MAX_RATE, allow_inf_nan=False
    )
    duration_s: float = Field(
        default=10.0, gt=0, le=3600, allow_inf_nan=False, description="seconds per recording"
    )
    bearing: str = Field(default="6205", description="key of faultlab.data.bearings.BEARINGS")
    loads: list[int] = Field(default_factory=lambda: [0, 1, 2, 3])
    rpm: dict[int, float] = Field(
        default_factory=lambda: {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1730.0},
        description="nominal motor speed per load (HP)",
    )
    normal: bool = Field(default=True, description="generate the healthy class")
    locations: list[Literal["IR", "B", "OR"]] = Field(default_factory=lambda: ["IR", "B", "OR"])
    sizes: list[float] = Field(default_factory=lambda: [0.007, 0.014, 0.021])
    recordings_per_condition: int = Field(default=1, ge=1, le=100)
    snr_db: float = Field(default=10.0, description="clean-signal power over noise power, dB")
    resonance_hz: float = Field(default=3500.0, gt=0)
    damping_ratio: float = Field(default=0.05, gt=0, lt=1)
    slip_jitter_pct: float = Field(
        default=1.5, ge=0, le=20, description="std of impact intervals, %"
    )
    fault_amplitude: float = Field(
        default=1.0, gt=0, description="impact amplitude at 0.007 in, 0 HP"
    )
    size_exponent: float = Field(
        default=1.0, ge=0, description="amplitude ~ (size / 0.007) ** this"
    )
    load_gain: float = Field(default=0.1, ge=0, description="amplitude x (1 + load_gain * load_hp)")
    modulation_depth: float = Field(default=0.5, ge=0, le=1)
    amplitude_jitter: float = Field(default=0.1, ge=0, le=1, description="per-impact amplitude std")
    shaft_amplitudes: list[float] = Field(
        default_factory=lambda: [0.05, 0.02], description="amplitudes of 1x, 2x, ... shaft"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> SyntheticConfig:
        if self.bearing not in BEARINGS:
            raise ValueError(f"bearing {self.bearing!r} unknown; choose one of {sorted(BEARINGS)}")
        missing = [load for load in self.loads if load not in self.rpm]
        if missing:
            raise ValueError(f"loads {missing} have no rpm entry; rpm: {self.rpm}")
        if self.resonance_hz >= self.sampling_rate / 2:
            raise ValueError(
                f"resonance_hz {self.resonance_hz} must be below Nyquist "
                f"({self.sampling_rate / 2} Hz at sampling_rate {self.sampling_rate})"
            )
        bad = [s for s in self.sizes if not 0 < s < 1]
        if bad:
            raise ValueError(f"sizes must be in (0, 1) inch, got {bad}")
        bad_rpm = [r for r in self.rpm.values() if not RPM_MIN <= r <= RPM_MAX]
        if bad_rpm:
            raise ValueError(f"rpm values must be in [{RPM_MIN:g}, {RPM_MAX:g}], got {bad_rpm}")
        if self.n_samples > SYNTH_MAX_SAMPLES:
            raise ValueError(
                f"duration_s x sampling_rate = {self.n_samples} samples per recording, over "
                f"the limit of {SYNTH_MAX_SAMPLES}"
            )
        n_rec = len(conditions(self))
        if n_rec * self.n_samples > SYNTH_MAX_TOTAL:
            raise ValueError(
                f"{n_rec} recordings x {self.n_samples} samples is over the limit of "
                f"{SYNTH_MAX_TOTAL} generated samples"
            )
        if not self.normal and not (self.locations and self.sizes):
            raise ValueError("nothing to generate: normal is false and no locations/sizes")
        return self

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.sampling_rate))


@dataclass(frozen=True)
class Condition:
    """One (class, load, repeat) to synthesise; ``location`` None means healthy."""

    location: str | None
    size_in: float | None
    load_hp: int
    rpm: float
    repeat: int

    @property
    def recording_id(self) -> str:
        cls = "normal" if self.location is None else f"{self.location}-{self.size_in:.3f}"
        return f"syn-{cls}-L{self.load_hp}-r{self.repeat}"


@dataclass
class SyntheticSignal:
    """The parts of one synthetic recording (float64), kept apart for tests and plots."""

    clean: np.ndarray  # shaft harmonics + fault response
    noise: np.ndarray
    impact_times: np.ndarray  # seconds
    impact_frequency_hz: float | None  # mean impact rate (BPFO/BPFI/2 BSF), None if healthy

    @property
    def signal(self) -> np.ndarray:
        return self.clean + self.noise


def conditions(config: SyntheticConfig) -> list[Condition]:
    """Every condition the config asks for, in a stable order (class, load, repeat)."""
    classes: list[tuple[str | None, float | None]] = [(None, None)] if config.normal else []
    classes += [(loc, float(size)) for loc in config.locations for size in config.sizes]
    return [
        Condition(loc, size, load, float(config.rpm[load]), r)
        for loc, size in classes
        for load in config.loads
        for r in range(config.recordings_per_condition)
    ]


def impact_frequency(location: str, rpm: float, bearing: str = "6205") -> float:
    """Mean impact rate (Hz) of a defect at ``location`` (IR/B/OR) at ``rpm``."""
    kin = FAULTS[location]
    return BEARINGS[bearing].frequencies(rpm)[kin.order] * kin.multiple


def _rng(config: SyntheticConfig, recording_id: str) -> np.random.Generator:
    return np.random.default_rng([config.seed, zlib.crc32(recording_id.encode())])


def _impact_times(f_imp: float, duration: float, jitter: float, rng: np.random.Generator):
    """Renewal process: intervals ``T (1 + jitter N(0,1))`` from a random start phase."""
    period = 1.0 / f_imp
    n = int(np.ceil(duration * f_imp * (1 + 5 * jitter))) + 4
    intervals = period * np.clip(1.0 + jitter * rng.standard_normal(n), 0.5, 1.5)
    times = rng.uniform(0.0, period) + np.concatenate([[0.0], np.cumsum(intervals[:-1])])
    return times[times < duration]


def _resonance_filter(config: SyntheticConfig) -> tuple[np.ndarray, np.ndarray]:
    """Exact IIR of ``exp(-z wn t) sin(wd t)`` sampled at fs (impulse invariance)."""
    wn = 2 * np.pi * config.resonance_hz
    z = config.damping_ratio
    r = np.exp(-z * wn / config.sampling_rate)
    theta = wn * np.sqrt(1 - z * z) / config.sampling_rate
    return np.array([0.0, r * np.sin(theta)]), np.array([1.0, -2 * r * np.cos(theta), r * r])


def simulate(config: SyntheticConfig, cond: Condition) -> SyntheticSignal:
    """Synthesise one recording's clean part and noise (deterministic per config + id)."""
    rng = _rng(config, cond.recording_id)
    fs, n = config.sampling_rate, config.n_samples
    t = np.arange(n) / fs
    fr = cond.rpm / 60.0

    clean = np.zeros(n)
    for k, amp in enumerate(config.shaft_amplitudes, start=1):
        a = amp * (1 + 0.1 * rng.standard_normal())
        clean += a * np.sin(2 * np.pi * k * fr * t + rng.uniform(0, 2 * np.pi))

    times = np.zeros(0)
    f_imp = None
    if cond.location is not None:
        kin = FAULTS[cond.location]
        orders = BEARINGS[config.bearing].orders()
        f_imp = orders[kin.order] * kin.multiple * fr
        assert cond.size_in is not None  # a fault condition always has a size
        times = _impact_times(f_imp, config.duration_s, config.slip_jitter_pct / 100, rng)
        amps = (
            config.fault_amplitude
            * (cond.size_in / REFERENCE_SIZE_IN) ** config.size_exponent
            * (1 + config.load_gain * cond.load_hp)
            * (1 + config.amplitude_jitter * rng.standard_normal(len(times)))
        )
        if kin.modulation is not None:
            f_mod = fr if kin.modulation == "shaft" else orders[kin.modulation] * fr
            phase = rng.uniform(0, 2 * np.pi)
            amps *= 1 + config.modulation_depth * np.cos(2 * np.pi * f_mod * times + phase)
        train = np.zeros(n)
        idx = np.minimum(np.rint(times * fs).astype(np.int64), n - 1)
        np.add.at(train, idx, amps)
        b, a = _resonance_filter(config)
        clean += sps.lfilter(b, a, train)

    power = float(np.mean(clean**2))
    sigma = np.sqrt(power / 10 ** (config.snr_db / 10))
    noise = sigma * rng.standard_normal(n)
    return SyntheticSignal(clean=clean, noise=noise, impact_times=times, impact_frequency_hz=f_imp)


def _meta(config: SyntheticConfig, cond: Condition) -> dict[str, Any]:
    faulty = cond.location is not None
    return {
        "dataset": "synthetic",
        "source": f"faultlab.synthetic seed={config.seed}",
        "condition": "fault" if faulty else "normal",
        "fault_location": FAULTS[cond.location].meta_location if cond.location else None,
        "fault_diameter_in": cond.size_in,
        "load_hp": cond.load_hp,
        "load": cond.load_hp,
        "load_unit": "hp",
        "rpm": cond.rpm,
        "rpm_source": "option",
        "sensor_end": "DE",
        # as in the CWRU catalogue: a healthy rig has no fault end
        "fault_end": "DE" if faulty else None,
        "bearing": config.bearing,
    }


def generate(config: SyntheticConfig | None = None) -> list[Recording]:
    """One ``Recording`` per condition (ids like ``syn-IR-0.007-L1-r0``)."""
    config = config or SyntheticConfig()
    return [
        Recording(
            recording_id=cond.recording_id,
            signal=simulate(config, cond).signal.astype(np.float32),
            sampling_rate=config.sampling_rate,
            channels=["DE"],
            meta=_meta(config, cond),
        )
        for cond in conditions(config)
    ]


def parse_config(options: dict[str, Any] | None) -> SyntheticConfig:
    """Validate a plain dict (``DataConfig.synthetic``); errors name the key in one line."""
    return validate(SyntheticConfig, options or {}, "data.synthetic")


def from_config(options: SyntheticConfig | dict[str, Any] | None = None) -> list[Recording]:
    """Entry point for the dataset builder: ``DataConfig.synthetic`` -> recordings."""
    return generate(options if isinstance(options, SyntheticConfig) else parse_config(options))
