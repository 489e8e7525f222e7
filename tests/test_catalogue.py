"""The shipped CWRU catalogue: completeness, agreement with the shared MANIFEST, filters."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from faultlab.data import catalogue
from faultlab.errors import DataError

NOMINAL_RPM = {0: 1797, 1: 1772, 2: 1750, 3: 1730}


def test_catalogue_has_every_group_with_expected_counts() -> None:
    df = catalogue.load_catalogue()
    assert catalogue.counts_by_group() == {"normal": 4, "12k_DE": 60, "48k_DE": 52, "12k_FE": 45}
    assert len(df) == 161
    assert df["file"].is_unique
    for col in catalogue.COLUMNS:
        assert col in df.columns


def test_rows_are_internally_consistent() -> None:
    df = catalogue.load_catalogue()
    assert (df["rpm"] == df["load_hp"].map(NOMINAL_RPM)).all()
    assert set(df["load_hp"]) == {0, 1, 2, 3}
    assert (df["url"] == [catalogue.BASE_URL.format(file=n) for n in df["file"]]).all()
    normal = df[df["condition"] == "normal"]
    assert sorted(normal["file"]) == [97, 98, 99, 100]
    assert (normal["sampling_rate_hz"] == 48000).all()
    assert normal["fault_location"].isna().all() and normal["fault_end"].isna().all()
    faults = df[df["condition"] == "fault"]
    assert set(faults["fault_location"]) == {"IR", "B", "OR@3", "OR@6", "OR@12"}
    assert set(faults["fault_diameter_in"]) == {0.007, 0.014, 0.021, 0.028}
    rates = {"12k_DE": (12000, "DE"), "48k_DE": (48000, "DE"), "12k_FE": (12000, "FE")}
    for group, (rate, end) in rates.items():
        rows = df[df["group"] == group]
        assert (rows["sampling_rate_hz"] == rate).all() and (rows["fault_end"] == end).all()
    # the conventional name encodes location, size and load
    for row in faults.itertuples():
        loc, _, clock = row.fault_location.partition("@")
        size = f"{round(row.fault_diameter_in * 1000):03d}"
        assert row.name == f"{loc}{size}{'@' + clock if clock else ''}_{row.load_hp}", row.file
    # at most one file per (group, location, size, load)
    keys = faults[["group", "fault_location", "fault_diameter_in", "load_hp"]]
    assert not keys.duplicated().any()
    # 0.028 in exists only at 12 kHz drive end (IR and B)
    big = faults[faults["fault_diameter_in"] == 0.028]
    assert set(big["group"]) == {"12k_DE"} and set(big["fault_location"]) == {"IR", "B"}


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (3001, ("12k_DE", "IR", 0.028, 0)),
        (3008, ("12k_DE", "B", 0.028, 3)),
        (144, ("12k_DE", "OR@3", 0.007, 0)),
        (160, ("12k_DE", "OR@12", 0.007, 3)),
        (174, ("48k_DE", "IR", 0.014, 0)),
        (217, ("48k_DE", "IR", 0.021, 3)),
        (265, ("48k_DE", "OR@12", 0.021, 3)),
        (310, ("12k_FE", "OR@3", 0.014, 0)),
        (309, ("12k_FE", "OR@3", 0.014, 1)),
        (313, ("12k_FE", "OR@6", 0.014, 0)),
        (270, ("12k_FE", "IR", 0.021, 0)),
        (302, ("12k_FE", "OR@12", 0.007, 0)),
    ],
)
def test_known_file_numbers(file: int, expected: tuple) -> None:
    e = catalogue.entry(file)
    assert (e["group"], e["fault_location"], e["fault_diameter_in"], e["load_hp"]) == expected


def test_catalogue_labels_shared_files_exactly_as_manifest(cwru_dir: Path) -> None:
    manifest = pd.read_csv(cwru_dir / "MANIFEST.csv", keep_default_na=False)
    assert len(manifest) == 37
    for m in manifest.to_dict("records"):
        e = catalogue.entry(m["file"])
        where = m["file"]
        assert e["condition"] == m["condition"], where
        assert (e["fault_location"] or "") == m["fault_location"], where
        if m["fault_diameter_in"] == "":
            assert e["fault_diameter_in"] is None, where
        else:
            assert math.isclose(e["fault_diameter_in"], float(m["fault_diameter_in"])), where
        assert e["load_hp"] == int(m["load_hp"]), where
        assert e["rpm"] == int(m["motor_rpm_nominal"]), where
        assert e["sampling_rate_hz"] == int(m["sampling_rate_hz"]), where
        assert (e["fault_end"] or "") == m["sensor_end"], where
        assert e["sha256"] == m["sha256"], where
        assert e["n_samples"] == int(m["n_samples"]), where
        assert e["rpm_recorded"] == round(float(m["rpm_recorded"])), where
    # the hash is known exactly for the shared files
    assert catalogue.load_catalogue()["sha256"].notna().sum() == 37


def test_entry_parses_numbers_and_rejects_unknown() -> None:
    assert catalogue.entry("105.mat")["name"] == "IR007_0"
    assert catalogue.entry(Path("/x/cwru/97.mat"))["condition"] == "normal"
    with pytest.raises(DataError, match="CWRU file 5 is not in the catalogue"):
        catalogue.entry(5)
    with pytest.raises(DataError, match="'abc' is not a file number"):
        catalogue.entry("abc")


def test_filters_select_by_any_field() -> None:
    assert len(catalogue.filter_catalogue(["group=12k_DE", "load=0"])) == 15
    df = catalogue.filter_catalogue(fault_location=["IR", "B"], fault_diameter_in=0.007)
    assert len(df) == 4 * 2 * 3  # IR+B, 4 loads, 3 groups
    assert len(catalogue.filter_catalogue(["fault_location=OR@3,OR@12"])) == 16 + 16 + 15
    assert len(catalogue.filter_catalogue({"condition": "normal"})) == 4
    assert catalogue.filter_catalogue(["name=IR007_1", "rate=48000"])["file"].tolist() == [110]
    # select() keeps the lenient contract the dataset builder relies on
    empty = catalogue.select(catalogue.load_catalogue(), {"load_hp": 0, "group": "nowhere"})
    assert empty.empty


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("foo=1", "no column 'foo'"),
        ("load_hp=7", "no CWRU file has load_hp=7; values: 0, 1, 2, 3"),
        ("load_hp=abc", "'load_hp' holds numbers; got 'abc'"),
        ("fault_location=OR", "no CWRU file has fault_location=OR"),
        ("group", "'group' must look like KEY=VALUE"),
        ("group=", "has no value"),
    ],
)
def test_bad_filters_name_the_key_or_value(item: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        catalogue.parse_filters([item])


def test_available_marks_files_present(cwru_dir: Path) -> None:
    df = catalogue.load_catalogue()
    present = catalogue.available(df, cwru_dir.parent)
    assert int(present.sum()) == 37
    assert sorted(df.loc[present, "file"]) == sorted(int(p.stem) for p in cwru_dir.glob("*.mat"))
