import numpy as np
import pytest

from faultlab.data.resample import resample_signal
from faultlab.data.types import Recording
from faultlab.data.windowing import cut_into_blocks, make_windows, normalise, window_array
from faultlab.errors import DataError


def _rec(rid="r1", n=10_000, cond="fault", loc="IR", size=0.007, load=0):
    sig = np.arange(n, dtype=np.float32)
    meta = {"condition": cond, "fault_location": loc, "fault_diameter_in": size, "load_hp": load}
    return Recording(rid, sig, 12_000.0, ["DE"], meta)


def test_window_array_is_a_strided_view_with_exact_contents():
    sig = np.arange(20, dtype=np.float32)[None]
    w = window_array(sig, 8, 4)
    assert w.shape == (4, 1, 8)
    np.testing.assert_array_equal(w[1, 0], np.arange(4, 12))
    assert np.shares_memory(w, sig)


def test_make_windows_labels_positions_and_counts():
    recs = [
        _rec("a", cond="normal", loc=None, size=None),
        _rec("b"),
        _rec("c", loc="OR@6", size=0.021),
    ]
    ws = make_windows(recs, 1024, 512)
    per = (10_000 - 1024) // 512 + 1
    assert ws.X.shape == (3 * per, 1, 1024) and ws.X.dtype == np.float32
    assert ws.classes["class"] == ["normal", "IR_0.007", "OR_0.021"]
    assert ws.classes["location"] == ["IR", "OR"]
    assert (ws.y["location"][:per] == -1).all() and (ws.y["size"][:per] == -1).all()
    assert ws.y["detection"].tolist() == [0] * per + [1] * 2 * per
    assert ws.info["position"].tolist()[: per + 1] == [*range(per), 0]
    assert set(ws.recording_id) == {"a", "b", "c"}


def test_short_recording_is_a_clear_error():
    with pytest.raises(
        DataError, match="recording short .* 500 samples is shorter than one window of 1024"
    ):
        make_windows([_rec("short", n=500)], 1024)


@pytest.mark.parametrize("method", ["zscore", "minmax", "rms"])
def test_per_window_normalisation(method):
    X = np.random.default_rng(0).normal(3, 5, size=(10, 2, 256)).astype(np.float32)
    Z = normalise(X, method)
    if method == "zscore":
        np.testing.assert_allclose(Z.mean(-1), 0, atol=1e-5)
        np.testing.assert_allclose(Z.std(-1), 1, atol=1e-4)
    elif method == "minmax":
        np.testing.assert_allclose(Z.min(-1), -1, atol=1e-6)
        np.testing.assert_allclose(Z.max(-1), 1, atol=1e-6)
    else:
        np.testing.assert_allclose(np.sqrt((Z**2).mean(-1)), 1, atol=1e-5)


def test_blocks_are_contiguous_and_take_column_values():
    blocks = cut_into_blocks(_rec("97", n=4000), 4, "load_hp")
    assert [b.recording_id for b in blocks] == ["97#b0", "97#b1", "97#b2", "97#b3"]
    assert [b.meta["load_hp"] for b in blocks] == [0, 1, 2, 3]
    np.testing.assert_array_equal(
        np.concatenate([b.signal for b in blocks], axis=1), _rec(n=4000).signal
    )


def test_resample_48k_to_12k_keeps_a_tone():
    t = np.arange(48_000) / 48_000
    x = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    y = resample_signal(x, 48_000, 12_000)
    assert y.shape == (12_000,)
    spec = np.abs(np.fft.rfft(y))
    assert np.argmax(spec) == 1000  # 1 Hz bins over one second


def test_atomic_writes_leave_readable_files_and_no_temp_on_failure(tmp_path):
    import os
    import stat

    from faultlab.utils.io import atomic_path, write_json

    path = write_json(tmp_path / "m.json", {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # group/other can read
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "m.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text().strip() == '{\n  "a": 1\n}'
    assert os.listdir(tmp_path) == ["m.json"]
