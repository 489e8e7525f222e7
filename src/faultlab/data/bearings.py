"""Bearing geometry and characteristic defect frequencies (multiples of shaft speed).

CWRU: drive end 6205-2RS JEM SKF, fan end 6203-2RS JEM SKF. The formulas reproduce the
Bearing Data Center's published multiples (DE: BPFI 5.4152, BPFO 3.5848, FTF 0.39828,
2 x BSF 4.7135). MFPT: the NICE bearing of the MFPT/NRG test rig (8 rollers of 0.235 in on a
1.245 in pitch circle, contact angle 0), whose files store BPFO 81.125 Hz and BPFI 118.875 Hz
at 25 Hz shaft rate.

Every recording names its bearing in ``meta["bearing"]`` (and so every window's ``info``): a
key of :data:`BEARINGS`, or a geometry spec ``n_balls=8,ball_diameter=0.235,pitch_diameter=
1.245,contact_angle=0`` (what a manifest's geometry columns become). :func:`resolve` turns
either into a :class:`BearingGeometry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from faultlab.errors import DataError


@dataclass(frozen=True)
class BearingGeometry:
    name: str
    n_balls: int
    ball_diameter: float  # inches
    pitch_diameter: float  # inches
    contact_angle_deg: float = 0.0

    def _ratio(self) -> float:
        return (
            self.ball_diameter
            / self.pitch_diameter
            * math.cos(math.radians(self.contact_angle_deg))
        )

    def orders(self) -> dict[str, float]:
        """Defect frequencies as multiples of the shaft frequency."""
        r = self._ratio()
        return {
            "BPFO": self.n_balls / 2 * (1 - r),
            "BPFI": self.n_balls / 2 * (1 + r),
            "FTF": 0.5 * (1 - r),
            "BSF": self.pitch_diameter / (2 * self.ball_diameter) * (1 - r * r),
        }

    def frequencies(self, rpm: float) -> dict[str, float]:
        """Defect frequencies in Hz at ``rpm``."""
        fr = rpm / 60.0
        return {k: v * fr for k, v in self.orders().items()}

    def spec(self) -> str:
        """The geometry as a ``bearing`` value :func:`resolve` reads back."""
        return (
            f"n_balls={self.n_balls},ball_diameter={self.ball_diameter:g},"
            f"pitch_diameter={self.pitch_diameter:g},contact_angle={self.contact_angle_deg:g}"
        )


BEARINGS: dict[str, BearingGeometry] = {
    "6205": BearingGeometry("6205-2RS JEM SKF", 9, 0.3126, 1.537),
    "6203": BearingGeometry("6203-2RS JEM SKF", 8, 0.2656, 1.122),
    "NICE": BearingGeometry("NICE (MFPT test rig)", 8, 0.235, 1.245, 0.0),
}

#: Which bearing sits at which end of the CWRU test rig.
CWRU_BEARING_AT = {"DE": "6205", "FE": "6203"}

#: Geometry fields of a spec / manifest columns, with the names each may also go by.
GEOMETRY_FIELDS = {
    "n_balls": ("n_balls", "n_elements", "n_rollers"),
    "ball_diameter": ("ball_diameter", "ball_diameter_in", "roller_diameter"),
    "pitch_diameter": ("pitch_diameter", "pitch_diameter_in"),
    "contact_angle": ("contact_angle", "contact_angle_deg"),
}


def from_fields(fields: dict[str, Any], where: str = "bearing") -> BearingGeometry:
    """A geometry from ``n_balls``, ``ball_diameter``, ``pitch_diameter`` (inches, or any
    one unit for both) and optional ``contact_angle`` (degrees), under any of their aliases."""
    values: dict[str, float] = {}
    for name, aliases in GEOMETRY_FIELDS.items():
        found = [fields[a] for a in aliases if fields.get(a) not in (None, "")]
        if not found:
            if name == "contact_angle":
                values[name] = 0.0
                continue
            raise DataError(f"{where}: bearing geometry lacks {name!r} (have {sorted(fields)})")
        try:
            values[name] = float(found[0])
        except (TypeError, ValueError):
            raise DataError(f"{where}: bearing {name} {found[0]!r} is not a number") from None
    n = values["n_balls"]
    if n < 1 or n != int(n) or values["ball_diameter"] <= 0 or values["pitch_diameter"] <= 0:
        raise DataError(f"{where}: bearing geometry {values} is not physical")
    if values["ball_diameter"] >= values["pitch_diameter"]:
        raise DataError(f"{where}: ball diameter must be smaller than the pitch diameter")
    args = (int(n), values["ball_diameter"], values["pitch_diameter"], values["contact_angle"])
    return BearingGeometry(BearingGeometry("", *args).spec(), *args)


def resolve(value: str | BearingGeometry, where: str = "bearing") -> BearingGeometry:
    """A bearing name (a :data:`BEARINGS` key, case-insensitive) or geometry spec -> geometry."""
    if isinstance(value, BearingGeometry):
        return value
    text = str(value).strip()
    for key, geom in BEARINGS.items():
        if text.upper() == key.upper():
            return geom
    if "=" in text:
        pairs = [p.split("=", 1) for p in text.replace(";", ",").split(",") if p.strip()]
        if all(len(p) == 2 for p in pairs):
            return from_fields({k.strip(): v.strip() for k, v in pairs}, where)
    raise DataError(
        f"{where}: unknown bearing {text!r}; use one of {sorted(BEARINGS)} or a geometry "
        "'n_balls=8,ball_diameter=0.235,pitch_diameter=1.245,contact_angle=0'"
    )
