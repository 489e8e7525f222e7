import pytest

from faultlab.data.bearings import BEARINGS


def test_cwru_drive_end_orders_match_published_multiples():
    o = BEARINGS["6205"].orders()
    assert o["BPFI"] == pytest.approx(5.4152, abs=2e-3)
    assert o["BPFO"] == pytest.approx(3.5848, abs=2e-3)
    assert o["FTF"] == pytest.approx(0.39828, abs=1e-3)
    assert 2 * o["BSF"] == pytest.approx(4.7135, abs=5e-3)


def test_fan_end_orders():
    o = BEARINGS["6203"].orders()
    assert o["BPFI"] == pytest.approx(4.9469, abs=3e-3)
    assert o["BPFO"] == pytest.approx(3.0530, abs=3e-3)
