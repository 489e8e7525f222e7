"""Bearing geometry and characteristic defect frequencies (multiples of shaft speed).

CWRU: drive end 6205-2RS JEM SKF, fan end 6203-2RS JEM SKF. The formulas reproduce the
Bearing Data Center's published multiples (DE: BPFI 5.4152, BPFO 3.5848, FTF 0.39828,
2 x BSF 4.7135).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BearingGeometry:
    name: str
    n_balls: int
    ball_diameter: float  # inches
    pitch_diameter: float  # inches
    contact_angle_deg: float = 0.0

    def _ratio(self) -> float:
        return self.ball_diameter / self.pitch_diameter * math.cos(
            math.radians(self.contact_angle_deg)
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


BEARINGS: dict[str, BearingGeometry] = {
    "6205": BearingGeometry("6205-2RS JEM SKF", 9, 0.3126, 1.537),
    "6203": BearingGeometry("6203-2RS JEM SKF", 8, 0.2656, 1.122),
}

#: Which bearing sits at which end of the CWRU test rig.
CWRU_BEARING_AT = {"DE": "6205", "FE": "6203"}
