"""On-disk window store: same windows and labels as the in-memory path, lazy subsets, and
training / features / prediction that read it batch by batch with the in-memory results."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from faultlab.data.build import build_windows, for_target
from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.splits import make_splits
from faultlab.data.store import StoreWriter, WindowArray, open_store
from faultlab.errors import DataError
from faultlab.features.extract import FeatureExtractor
from faultlab.models.base import build_model
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

SYN = {"duration_s": 1.0, "locations": ["IR", "OR"], "sizes": [0.007], "snr_db": 0.0}


def _cfgs(tmp_path, **extra):
    base = {"dataset": "synthetic", "window": 256, "synthetic": SYN, **extra}
    return DataConfig(**base), DataConfig(**base, store={"path": str(tmp_path / "store")})


def test_store_holds_the_in_memory_windows(tmp_path):
    mem_cfg, disk_cfg = _cfgs(tmp_path, normalise="zscore")
    mem, disk = build_windows(mem_cfg), build_windows(disk_cfg)
    assert isinstance(disk.X, WindowArray) and disk.X.shape == mem.X.shape
    np.testing.assert_array_equal(disk.X[:], mem.X)
    assert disk.classes == mem.classes
    for t in mem.y:
        np.testing.assert_array_equal(disk.y[t], mem.y[t])
    np.testing.assert_array_equal(disk.recording_id, mem.recording_id)
    for col in ("load_hp", "fault_location", "position"):
        assert disk.info[col].tolist() == mem.info[col].tolist()
    # splits and subsets stay lazy and pick the same windows
    split = make_splits(mem, SplitConfig(kind="leave_one_out", folds=[3]))[0]
    sub = for_target(disk, "flat").subset(split.test)
    assert isinstance(sub.X, WindowArray)
    np.testing.assert_array_equal(sub.X[:], mem.subset(split.test).X)


def test_window_array_indexing_and_pickling(tmp_path):
    X = np.arange(10 * 2 * 8, dtype=np.float32).reshape(10, 2, 8)
    w = StoreWriter(tmp_path / "s", ["a", "b"], 8, 100.0)
    w.add("r0", X[:4], {"condition": "normal"})
    w.add("r1", X[4:], {"condition": "fault", "fault_location": "IR"})
    w.close()
    ws = open_store(tmp_path / "s")
    A = ws.X
    np.testing.assert_array_equal(A[2:7], X[2:7])
    np.testing.assert_array_equal(A[[9, 0, 5]], X[[9, 0, 5]])
    np.testing.assert_array_equal(A[3], X[3])
    np.testing.assert_array_equal(A[::3], X[::3])
    np.testing.assert_array_equal(A[1:3, 1], X[1:3, 1])
    sub = A.subset([8, 1, 4]).subset([2, 0])
    np.testing.assert_array_equal(sub[:], X[[4, 8]])
    np.testing.assert_array_equal(np.asarray(sub), X[[4, 8]])
    back = pickle.loads(pickle.dumps(sub))
    assert back.shape == (2, 2, 8) and back._file is None
    np.testing.assert_array_equal(back[:], X[[4, 8]])
    assert ws.recording_id.tolist() == ["r0"] * 4 + ["r1"] * 6
    assert ws.info["position"].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5]
    with pytest.raises(IndexError):
        A[[10]]
    with pytest.raises(DataError, match="windows of shape"):
        StoreWriter(tmp_path / "t", ["a"], 8, 1.0).add("r", X[:2], {})


def _rss_file_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    pytest.skip("no /proc/self/status RssFile here")


def _random_reads_growth_mb(A, X, batch: int = 32) -> float:
    """Largest growth of file-backed resident memory while reading every window at random."""
    before, peak = _rss_file_kb(), 0
    perm = np.random.default_rng(1).permutation(len(A))
    for i in range(0, len(A), batch):
        rows = perm[i : i + batch]
        np.testing.assert_array_equal(A[rows], X[rows])
        peak = max(peak, _rss_file_kb() - before)
    return peak / 1024


def test_random_reads_keep_no_file_pages_resident(tmp_path):
    """Reading every window of a 32 MB store at random adds no file-backed resident memory
    (a memory map did: a fault maps a whole page-cache folio, ~680 KB per touched window)."""
    X = np.random.default_rng(0).normal(size=(8192, 1, 1024)).astype(np.float32)
    w = StoreWriter(tmp_path / "s", ["a"], 1024, 1.0)
    w.add("r", X, {"condition": "normal"})
    w.close()
    grown = _random_reads_growth_mb(open_store(tmp_path / "s").X, X)
    assert grown < 2, f"{grown:.1f} MB of the 32 MB file became resident"


def test_store_is_rebuilt_only_when_the_config_changes(tmp_path):
    _, disk_cfg = _cfgs(tmp_path)
    build_windows(disk_cfg)
    data = tmp_path / "store" / "windows.f32"
    stamp = data.stat().st_mtime_ns
    build_windows(disk_cfg.model_copy(update={"normalise": "none"}))  # same config
    assert data.stat().st_mtime_ns == stamp
    other = disk_cfg.model_copy(update={"window": 128})
    assert build_windows(other).window_length == 128 and data.stat().st_mtime_ns != stamp
    opened = build_windows(DataConfig(dataset="store", store={"path": str(tmp_path / "store")}))
    assert opened.window_length == 128
    with pytest.raises(DataError, match="not a window store"):
        build_windows(DataConfig(dataset="store", store={"path": str(tmp_path / "nothing")}))


@pytest.mark.parametrize("model", ["cnn1d", "rf"])
def test_training_and_prediction_stream_from_the_store(tmp_path, model):
    mem_cfg, disk_cfg = _cfgs(tmp_path)
    mem = for_target(build_windows(mem_cfg), "flat")
    disk = for_target(build_windows(disk_cfg), "flat")
    split = make_splits(mem, SplitConfig(kind="leave_one_out", folds=[3]))[0]
    training = TrainConfig(
        epochs=2, batch_size=32, num_threads=1, deterministic=True, progress=False, amp=False
    )
    results = []
    for ws in (mem, disk):
        m = build_model(
            model,
            classes=ws.classes,
            input_shape=(1, 256),
            params={"n_estimators": 20, "n_jobs": 1} if model == "rf" else {},
            training=training,
        )
        fit = fit_model(m, ws.subset(split.train), ws.subset(split.val), None)
        results.append((fit.history, m.predict_proba(ws.subset(split.test).X)))
    (h_mem, p_mem), (h_disk, p_disk) = results
    assert [r["epoch"] for r in h_mem] == [r["epoch"] for r in h_disk]
    for a, b in zip(h_mem, h_disk):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(p_disk["class"], p_mem["class"], atol=1e-4)


def test_features_stream_from_the_store(tmp_path):
    mem_cfg, disk_cfg = _cfgs(tmp_path)
    mem, disk = build_windows(mem_cfg), build_windows(disk_cfg)
    fx = FeatureExtractor(sampling_rate=12000, chunk_size=100)
    np.testing.assert_array_equal(fx.fit(disk.X).transform(disk.X), fx.transform(mem.X))


def test_store_metadata_is_compact_per_window(tmp_path):
    """What open_store keeps per window is bounded (bytes per window, independent of the
    store's size): text metadata as category codes, integers downcast, labels int64, ids
    one fixed-width string. A 2 M-window store's metadata then fits in a few hundred MB."""
    w = StoreWriter(tmp_path / "s", ["a"], 4, 1.0)
    rng = np.random.default_rng(0)
    for r in range(200):
        meta = {"condition": "fault", "fault_location": "IR", "fault_diameter_in": 0.007}
        meta |= {"load_hp": r % 4, "rpm": 1797.0, "bearing": "6205"}
        w.add(f"rec-{r:04d}", rng.normal(size=(50, 1, 4)).astype(np.float32), meta)
    w.close()
    ws = open_store(tmp_path / "s")
    n = len(ws)
    info = ws.info.memory_usage(deep=True, index=True).sum() / n
    labels = sum(a.nbytes for a in ws.y.values()) / n
    assert info < 48, ws.info.memory_usage(deep=True, index=True) / n
    assert labels == 8 * len(ws.y)
    assert ws.recording_id.nbytes / n == 4 * len("rec-0000")
    assert ws.info["load_hp"].tolist()[::50] == [r % 4 for r in range(200)]
    # subsets stay lazy and their metadata stays compact too
    sub = ws.subset(np.arange(0, n, 3))
    assert isinstance(sub.X, WindowArray)
    assert sub.info.memory_usage(deep=True, index=True).sum() / len(sub) < 48


def test_recording_codes_match_the_ids_in_any_order():
    from faultlab.data.types import WindowSet

    rid = np.array(["b", "b", "a", "c", "c", "a", "b", "a"])
    ws = WindowSet(
        X=np.zeros((8, 1, 2), np.float32),
        y={"class": np.zeros(8, np.int64)},
        classes={"class": ["x"]},
        recording_id=rid,
        info=__import__("pandas").DataFrame(index=range(8)),
    )
    codes, names = ws.recording_codes()
    assert names.tolist() == ["a", "b", "c"] and codes.dtype == np.int32
    np.testing.assert_array_equal(names[codes], rid)
