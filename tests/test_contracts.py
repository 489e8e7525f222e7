"""The bottom floor: run-directory names in one place, one validation-error format, targets."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel, ConfigDict, Field

from faultlab import contracts
from faultlab.data.labels import TARGETS, Target
from faultlab.errors import ConfigError
from faultlab.experiments import rundir
from faultlab.experiments.config import ExperimentConfig, parse_config
from faultlab.utils.validation import validate


def test_file_names_are_unique_and_rundir_reexports_them():
    names = {k: v for k, v in vars(contracts).items() if k.isupper() and isinstance(v, str)}
    assert len(set(names.values())) == len(names)
    for key in ("CONFIG", "SPLIT", "HISTORY", "METRICS", "DONE", "MODEL_DIR", "CHECKPOINT"):
        assert getattr(rundir, key) == names[key]
    assert rundir.read_history is contracts.read_history


def test_read_history_tolerates_missing_and_broken_files(tmp_path):
    assert contracts.read_history(tmp_path) == []
    (tmp_path / contracts.HISTORY).write_text("epoch,train_loss,val_loss\n1,0.5,\n2,0.4,0.6\n")
    rows = contracts.read_history(tmp_path)
    assert rows[0]["val_loss"] is None and rows[1]["val_loss"] == 0.6
    (tmp_path / contracts.HISTORY).write_bytes(b'"\x00unterminated')
    assert contracts.read_history(tmp_path) == []


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(default=1, ge=1)


def test_one_line_config_errors_name_the_key_and_value():
    with pytest.raises(
        ConfigError, match=r"^data\.block\.n: .*greater than or equal to 1 \(got 0\)$"
    ):
        validate(_Block, {"n": 0}, "data.block")
    with pytest.raises(ConfigError, match=r"^cfg\.yaml: tune\.m: Extra inputs"):
        validate(_Block, {"m": 1}, "tune", source="cfg.yaml")
    with pytest.raises(ConfigError, match=r"^c\.yaml: target: .*'flat'"):
        parse_config(ExperimentConfig, {"model": {"name": "mlp"}, "target": "flat2"}, "c.yaml")


def test_target_literal_matches_the_label_table():
    assert set(get_args(Target)) == set(TARGETS)
