"""What defect evidence each CWRU fault recording carries, per location x size x channel.

The contrast front end (``features.defect_contrast``) reads each fault family's line and
period evidence as a robust z-score against decoy orders of the same window (about 0 where
nothing stands out), plus log(kurtosis / 3) (0 for Gaussian noise). This prints, per fault
location x fault size (and channel: drive end, and fan end where ``--channels DE,FE``), the
median over windows of every column and the share of windows whose own family's line z
exceeds 3. A row whose own family reads like its decoys (z near 0) and whose kurtosis is 0
has no evidence any model trained on other bearings could read: the 0.014 in outer race
(CWRU 197-200), as Smith & Randall (MSSP 2015) found.

Every channel is read for the bearing the fault is in (``--bearing fault_end``, the drive-end
6205, by default); ``--bearing sensor`` gives each channel the bearing under its sensor (FE:
the fan-end 6203), which looks for another bearing's defect orders on the FE and BA channels.

    FAULTLAB_DATA_DIR=/work/shared/data PYTHONPATH=src .venv/bin/python \\
        benchmarks/held_out_size_evidence.py --channels DE,FE,BA
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from faultlab.data.build import build_windows
from faultlab.data.config import DataConfig
from faultlab.features.window_frontend import WindowFrontend

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cwru-held-out-size.yaml"
FE = {"kind": "order_envelope", "contrast": True, "harmonics": 1, "half_width": 0.0}
OWN = {"IR": "BPFI", "B": "BSF", "OR": "BPFO"}


def evidence(channels: list[str], bearing: str | None = "fault_end") -> pd.DataFrame:
    # the held-out-size benchmark's own data block (CWRU 12 kHz DE faults, all loads), on
    # the channels asked for, read for ``bearing`` (None: the bearing under each sensor)
    spec = yaml.safe_load(CONFIG.read_text())["data"]
    data = DataConfig.model_validate({**spec, "channel": channels, "bearing": bearing})
    ws = build_windows(data)
    front = WindowFrontend(FE)
    out = front.apply(ws)
    names = front.names()
    cols = [i for i, n in enumerate(names) if n.startswith("contrast:")]
    loc = ws.info["fault_location"].astype(str).str.replace("@6", "", regex=False).to_numpy()
    size = ws.info["fault_diameter_in"].to_numpy()
    rows = []
    for ci, ch in enumerate(channels):
        Z = out.X[:, ci][:, cols]
        for (lo, sz), idx in pd.Series(range(len(loc))).groupby([loc, size]).groups.items():
            idx = np.asarray(list(idx))
            row = {"location": lo, "size_in": f"{sz:.3f}", "channel": ch, "windows": len(idx)}
            for j, c in enumerate(cols):
                row[names[c].removeprefix("contrast:")] = float(np.median(Z[idx, j]))
            own = names.index(f"contrast:line:{OWN[lo]}")
            row["own_line_z>3"] = float((out.X[idx, ci, own] > 3).mean())
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["channel", "location", "size_in"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", default="DE", help="comma-separated, e.g. DE,FE,BA")
    ap.add_argument(
        "--bearing",
        default="fault_end",
        help="data.bearing: fault_end (the faulty bearing's orders on every channel), a "
        "bearing key, or 'sensor' (each channel's own bearing: FE 6203)",
    )
    a = ap.parse_args()
    pd.set_option("display.width", 220)
    bearing = None if a.bearing == "sensor" else a.bearing
    print(evidence(a.channels.split(","), bearing).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
