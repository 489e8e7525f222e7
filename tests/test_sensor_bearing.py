"""Which bearing a channel is read for (``data.bearing``), the leave-one-out split limited to
one sensor per role, and the leakage check across sources that read one file twice: the
pieces of the held-out-sensor protocol (``configs/cwru-held-out-sensor.yaml``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from faultlab.data.build import build_windows, with_bearing
from faultlab.data.config import FAULT_END, DataConfig, SplitConfig, ValConfig
from faultlab.data.splits import check_no_leakage, make_splits
from faultlab.data.types import Recording
from faultlab.data.windowing import cut_into_blocks
from faultlab.errors import ConfigError, DataError, LeakageError
from faultlab.experiments import rundir
from faultlab.experiments.config import ExperimentConfig, parse_config
from faultlab.signals.geometry import bearing_for, bearings_per_window

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cwru-held-out-sensor.yaml"
SMALL = {
    "duration_s": 0.5,
    "loads": [0],
    "locations": ["IR", "OR"],
    "sizes": [0.007, 0.014, 0.021],
    "normal": False,
}
#: two "sensors" of one synthetic rig: the same generator seen as two sources
TWO_SENSORS = {
    "dataset": "sources",
    "sources": [
        {"dataset": "synthetic", "label": "de", "synthetic": SMALL},
        {"dataset": "synthetic", "label": "fe", "synthetic": {**SMALL, "seed": 1}},
    ],
    "window": 512,
    "single_recording_blocks": 1,
}


def _config(bearing: object) -> ExperimentConfig:
    raw = {"data": {"dataset": "synthetic", "bearing": bearing}, "model": {"name": "rf"}}
    return parse_config(ExperimentConfig, raw, "c.yaml")


def test_bearing_option_takes_fault_end_a_key_or_a_geometry():
    assert _config("Fault_End").data.bearing == FAULT_END
    assert _config(6205).data.bearing == "6205"  # YAML reads 6205 as a number
    spec = "n_balls=9,ball_diameter=0.3126,pitch_diameter=1.537"
    assert _config(spec).data.bearing == spec
    assert DataConfig().bearing is None  # default: the bearing under each sensor


@pytest.mark.parametrize(
    "bad, needle",
    [
        ("6209", r"^c\.yaml: data\.bearing: unknown bearing '6209'; use fault_end"),
        (
            "n_balls=0,ball_diameter=0.3,pitch_diameter=1.5",
            r"^c\.yaml: data\.bearing: .*not physical",
        ),
    ],
)
def test_bad_bearing_is_a_one_line_error_naming_it(bad, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        _config(bad)
    assert "\n" not in str(err.value) and bad in str(err.value)


def test_old_run_configs_without_the_option_compare_equal():
    cfg = _config(None)
    dump = cfg.model_dump(mode="json")
    old = {**dump, "data": {k: v for k, v in dump["data"].items() if k != "bearing"}}
    assert rundir.changed_keys(old, dump) == []
    assert rundir.changed_keys(old, _config("fault_end").model_dump(mode="json")) == [
        "data.bearing: (unset) -> fault_end"
    ]


def test_top_level_bearing_is_each_sources_default():
    cfg = DataConfig.model_validate(
        {
            **TWO_SENSORS,
            "bearing": "6203",
            "sources": [
                *TWO_SENSORS["sources"][:1],
                {**TWO_SENSORS["sources"][1], "bearing": "NICE"},
            ],
        }
    )
    assert [s.bearing for s in cfg.sources or []] == ["6203", "NICE"]


def _two_channel_recording() -> Recording:
    """A CWRU-like drive-end fault read on the FE and DE channels (the reader's metadata)."""
    meta = {"recording_id": "105", "sensor_end": "FE+DE", "bearing": "6203"}
    meta["channel_bearings"] = "6203+6205"
    return Recording("105", np.zeros((2, 4096), np.float32), 12000.0, ["FE", "DE"], meta)


def test_fault_end_reads_every_channel_for_the_faulty_bearing():
    default = _two_channel_recording()
    assert with_bearing([default], None, ["6205"]) == []  # default: unchanged
    assert [bearing_for(default.meta, c) for c in ("FE", "DE")] == ["6203", "6205"]
    rec = _two_channel_recording()
    (note,) = with_bearing([rec], FAULT_END, ["6205"])
    assert "fault end" in note
    assert [bearing_for(rec.meta, c) for c in ("FE", "DE")] == ["6205", "6205"]
    with pytest.raises(DataError, match="fault_end needs a catalogued dataset"):
        with_bearing([_two_channel_recording()], FAULT_END, None)


def test_a_source_read_for_another_bearing_reaches_the_front_end_geometry():
    base = {"dataset": "synthetic", "synthetic": SMALL, "window": 512}
    default = build_windows(DataConfig.model_validate(base))
    assert set(bearings_per_window(default.info, default.channels).ravel()) == {"6205"}
    other = build_windows(DataConfig.model_validate({**base, "bearing": "6203"}))
    assert set(bearings_per_window(other.info, other.channels).ravel()) == {"6203"}
    assert any("data.bearing 6203" in n for n in other.notes)
    with pytest.raises(DataError, match="fault_end needs a catalogued dataset"):
        build_windows(DataConfig.model_validate({**base, "bearing": "fault_end"}))


def test_leave_one_out_with_selectors_trains_on_one_sensor_and_tests_on_the_other():
    ws = build_windows(DataConfig.model_validate(TWO_SENSORS))
    split = SplitConfig(
        kind="leave_one_out",
        column="fault_diameter_in",
        train=[{"dataset": "de"}],
        test=[{"dataset": "fe"}],
        val=ValConfig(strategy="condition"),
    )
    folds = make_splits(ws, split)
    assert [f.name for f in folds] == [
        f"test fault_diameter_in {s}" for s in ("0.007", "0.014", "0.021")
    ]
    info = ws.info
    for fold, size in zip(folds, (0.007, 0.014, 0.021)):
        fit = np.concatenate([fold.train, fold.val])
        assert set(info["dataset"].iloc[fit]) == {"de"}
        assert set(info["dataset"].iloc[fold.test]) == {"fe"}
        assert set(info["fault_diameter_in"].iloc[fold.test]) == {size}
        assert size not in set(info["fault_diameter_in"].iloc[fit])
        assert len(fold.val) and len(set(info["fault_diameter_in"].iloc[fold.val])) == 1
    # without selectors every other size (both sensors) trains, as before
    plain = make_splits(ws, SplitConfig(kind="leave_one_out", column="fault_diameter_in"))
    assert set(ws.info["dataset"].iloc[plain[0].train]) == {"de", "fe"}
    with pytest.raises(ConfigError, match="train must be selectors"):
        make_splits(ws, split.model_copy(update={"train": ["de"]}))


def test_one_file_read_by_two_sources_is_one_recording_for_the_leakage_check():
    ws = build_windows(DataConfig.model_validate(TWO_SENSORS))
    ws = ws.subset(np.arange(len(ws)))  # a copy: the built set is cached
    fe = (ws.info["dataset"] == "fe").to_numpy()
    # what _source_recordings writes when a catalogued file is read again by another source
    ws.info["same_recording_as"] = [
        r.split(":", 1)[-1] if is_fe else None for r, is_fe in zip(ws.recording_id, fe)
    ]
    assert (ws.recording_id[fe] != ws.info["same_recording_as"][fe]).all()
    one_size = SplitConfig(
        kind="condition",
        column="fault_diameter_in",
        train=[{"dataset": "de", "fault_diameter_in": 0.007}],
        test=[{"dataset": "fe", "fault_diameter_in": 0.007}],
        val=ValConfig(strategy="none"),
    )
    with pytest.raises(LeakageError, match="feed both training and test"):
        make_splits(ws, one_size)
    sizes = make_splits(
        ws,
        SplitConfig(
            kind="leave_one_out",
            column="fault_diameter_in",
            train=[{"dataset": "de"}],
            test=[{"dataset": "fe"}],
        ),
    )
    for fold in sizes:
        check_no_leakage(fold, ws)  # different sizes are different recordings


def test_blocks_of_a_file_read_twice_point_at_the_same_blocks():
    rec = _two_channel_recording()
    rec.meta["same_recording_as"] = "97"
    blocks = cut_into_blocks(rec, 2, None)
    assert [b.meta["same_recording_as"] for b in blocks] == ["97#b0", "97#b1"]


def test_reports_call_a_limited_leave_one_out_what_it_is():
    from faultlab.reporting.protocol import describe_protocol

    rule = {
        "kind": "leave_one_out",
        "column": "fault_diameter_in",
        "train": [{"dataset": "cwru-DE"}],
        "test": [{"dataset": "cwru-FE"}],
    }
    val = {"kind": "condition", "description": "fault_diameter_in = 0.014 held out"}
    proto = describe_protocol("leave_one_out", rule, validation=val)
    assert proto.label == "held-out size"  # not "cross-machine": the folds are the sizes
    assert "trains only on windows matching {dataset=cwru-DE}" in proto.text
    assert "tests only on windows matching {dataset=cwru-FE}" in proto.text
    assert "does NOT see the train/test limits'" in proto.text and proto.warning
    plain = describe_protocol(
        "leave_one_out", {**rule, "train": None, "test": None}, validation=val
    )
    assert "matching" not in plain.text and not plain.warning


# --- the real protocol (../shared/data) ------------------------------------------------------


@pytest.fixture(scope="module")
def protocol(shared_data):
    raw = yaml.safe_load(CONFIG.read_text())
    data = DataConfig.model_validate({**raw["data"], "data_dir": str(shared_data)})
    return build_windows(data), SplitConfig.model_validate(raw["split"])


def test_held_out_sensor_protocol_trains_on_de_and_tests_fe_of_another_size(protocol):
    ws, split = protocol
    assert set(ws.info["bearing"]) == {"6205"}  # every channel read for the DE bearing
    folds = make_splits(ws, split)
    assert len(folds) == 3
    for fold in folds:
        fit = np.concatenate([fold.train, fold.val])
        assert set(ws.info["sensor_end"].iloc[fit]) == {"DE"}
        assert set(ws.info["sensor_end"].iloc[fold.test]) == {"FE"}
        fit_files = set(ws.info["file"].iloc[fit])
        assert fit_files.isdisjoint(set(ws.info["file"].iloc[fold.test]))
        assert len(set(ws.info["file"].iloc[fold.test])) == 12
    # the same file's DE and FE in train and test is caught, though the ids differ
    leaky = SplitConfig(
        kind="condition",
        column="fault_diameter_in",
        train=[{"dataset": "cwru-DE", "fault_diameter_in": 0.007}],
        test=[{"dataset": "cwru-FE", "fault_diameter_in": 0.007}],
        val=ValConfig(strategy="none"),
    )
    with pytest.raises(LeakageError, match="12 recording"):
        make_splits(ws, leaky)


def test_a_de_outer_race_fault_shows_at_the_de_bearings_orders_on_the_fe_channel(cwru_dir):
    from faultlab.features.window_frontend import WindowFrontend

    def bpfo_line_z(bearing: str | None) -> float:
        data = {"dataset": "cwru", "files": [130], "channel": "FE", "bearing": bearing}
        ws = build_windows(DataConfig.model_validate({**data, "data_dir": str(cwru_dir.parent)}))
        front = WindowFrontend(
            {"kind": "order_envelope", "contrast": True, "harmonics": 1, "half_width": 0.0}
        )
        out = front.apply(ws)
        return float(np.median(out.X[:, 0, front.names().index("contrast:line:BPFO")]))

    # CWRU 130: outer race 0.007 in at the drive end, 0 HP, read by the fan-end accelerometer
    assert bpfo_line_z(FAULT_END) > 1.5  # the 6205's BPFO stands out of its decoys
    assert bpfo_line_z(None) < 0.5  # the default looks at the fan-end 6203's orders
