"""``DataConfig``'s nested blocks are typed (``synthetic``, ``table``), and configs written
before they were typed still read back the same (config.yaml, the config hash)."""

from __future__ import annotations

import pytest
import yaml

from faultlab.data.config import DataConfig
from faultlab.data.synthetic import SyntheticConfig
from faultlab.data.tabular import TableConfig
from faultlab.errors import ConfigError
from faultlab.experiments import rundir
from faultlab.experiments.config import ExperimentConfig, parse_config
from faultlab.experiments.runner import effective_config

RAW = {
    "data": {
        "dataset": "synthetic",
        "window": 512,
        "synthetic": {"duration_s": 2, "loads": [0, 1], "rpm": {0: 1797, 1: 1772}},
    },
    "model": {"name": "rf", "params": {"n_estimators": 10}},
}


def test_nested_blocks_are_typed():
    cfg = parse_config(ExperimentConfig, RAW)
    syn = cfg.data.synthetic
    assert isinstance(syn, SyntheticConfig) and syn.duration_s == 2.0 and syn.snr_db == 10.0
    assert cfg.data.table is None
    table = DataConfig(dataset="table", table={"path": "plates.csv", "id_column": "id"})
    assert isinstance(table.table, TableConfig) and table.table.id_column == "id"
    sources = DataConfig(dataset="sources", sources=[{"dataset": "synthetic", "synthetic": {}}])
    assert sources.sources and isinstance(sources.sources[0].synthetic, SyntheticConfig)


@pytest.mark.parametrize(
    "data,needle",
    [
        (
            {"dataset": "synthetic", "synthetic": {"snr": 3}},
            r"^c\.yaml: data\.synthetic\.snr: Extra",
        ),
        (
            {"dataset": "synthetic", "synthetic": {"duration_s": -1}},
            r"^c\.yaml: data\.synthetic\.duration_s: .*greater than 0 \(got -1\)$",
        ),
        ({"dataset": "table"}, r"^c\.yaml: data: dataset table needs a 'table' block"),
        (
            {"dataset": "table", "table": {"label": "x"}},
            r"^c\.yaml: data\.table\.path: Field required",
        ),
        (
            {
                "dataset": "sources",
                "sources": [{"dataset": "synthetic", "synthetic": {"seed": "x"}}],
            },
            r"^c\.yaml: data\.sources\.0\.synthetic\.seed: ",
        ),
    ],
)
def test_bad_nested_values_are_one_line_naming_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_config(ExperimentConfig, {"data": data, "model": {"name": "rf"}}, "c.yaml")


def test_dump_keeps_what_the_user_wrote_so_old_run_configs_compare_equal():
    cfg = parse_config(ExperimentConfig, RAW)
    dump = effective_config(cfg, seed=0)
    assert dump["data"]["synthetic"] == {
        "duration_s": 2.0,
        "loads": [0, 1],
        "rpm": {"0": 1797.0, "1": 1772.0},
    }
    assert dump["data"]["table"] == {}
    # config.yaml of a run made when these blocks were plain dicts: ints, table: {}
    old = yaml.safe_load(yaml.safe_dump({**dump, "data": {**dump["data"], **RAW["data"]}}))
    assert old["data"]["synthetic"]["duration_s"] == 2 and old["data"]["table"] == {}
    assert rundir.changed_keys(old, dump) == []
    assert rundir.config_hash(old) == rundir.config_hash(dump)
    # and a stored config still parses into the same typed config
    again = parse_config(ExperimentConfig, old)
    assert again.data == cfg.data
    changed = {**dump, "data": {**dump["data"], "synthetic": {"duration_s": 3.0}}}
    assert any(
        k.startswith("data.synthetic.duration_s") for k in rundir.changed_keys(dump, changed)
    )
