"""The envelope expert on a CWRU bearing it has never seen (leave-one-fault-size-out)."""

from __future__ import annotations

import numpy as np
import pytest

from faultlab.features.window_frontend import WindowFrontend
from faultlab.models.base import build_model, get_spec
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

SELECT = {
    "fault_end": "DE",
    "sampling_rate_hz": 12000,
    "fault_location": ["IR", "B", "OR@6"],
    "fault_diameter_in": [0.007, 0.014, 0.021],
}


@pytest.mark.shared
def test_envelope_diagnoses_the_held_out_021_in_bearing(shared_data):
    """Calibrated on 0.007 + 0.014 in, tested on 0.021 in: inner and outer race found on
    (almost) every window; ball faults stay the hard class (Smith & Randall 2015)."""
    import faultlab

    ws = faultlab.load_windows(
        "cwru", window=1024, select=SELECT, normal=False, data_dir=str(shared_data)
    )
    ws = WindowFrontend(get_spec("envelope").defaults["frontend"]).apply(ws)
    size = ws.info["fault_diameter_in"].to_numpy(float)
    train, test = ws.subset(np.flatnonzero(size != 0.021)), ws.subset(np.flatnonzero(size == 0.021))
    model = build_model(
        "envelope", {"location": ws.classes["location"]}, ws.X.shape[1:], {}, TrainConfig(seed=0)
    )
    fit_model(model, train)
    pred = model.predict_proba(test.X)["location"].argmax(1)
    y = test.y["location"]
    recall = {c: float((pred[y == i] == i).mean()) for i, c in enumerate(ws.classes["location"])}
    assert recall["IR"] >= 0.99 and recall["OR"] >= 0.95, recall
    assert (pred == y).mean() >= 0.75
