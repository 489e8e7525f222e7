"""Typed model options: every registered model declares a ``ModelParams`` subclass, checked
by ``build_model``, shown by ``faultlab models NAME``, never rewritten by ``fit``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faultlab.cli import main as cli_main
from faultlab.data.build import build_windows
from faultlab.data.config import DataConfig
from faultlab.errors import ConfigError
from faultlab.models.base import ModelParams, build_model, load_model, registry
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

TWO = {"class": ["a", "b"]}


def test_every_model_declares_typed_params_with_descriptions():
    for name, spec in registry().items():
        if not spec.cls.__module__.startswith("faultlab."):
            continue  # test-only models other modules register
        assert issubclass(spec.params, ModelParams) and spec.cls.Params is spec.params, name
        assert spec.params.model_config.get("extra") == "forbid", name
        rows = spec.options()
        assert [r[0] for r in rows] == list(spec.defaults), name
        assert all(kind and text for _, kind, _, text in rows), name


def test_unknown_key_is_one_line_naming_model_and_known_keys():
    with pytest.raises(ConfigError) as info:
        build_model("cnn1d", TWO, (1, 256), {"dropuot": 0.1})
    msg = str(info.value)
    assert msg.startswith("model.params.dropuot: unknown key for cnn1d (known: ")
    assert "dropout" in msg and "\n" not in msg


@pytest.mark.parametrize(
    "name,params,needle",
    [
        ("cnn1d", {"first_stride": 0}, r"model\.params\.first_stride: .*greater than 0 \(got 0\)"),
        ("mlp", {"hidden": ["abc"]}, r"model\.params\.hidden\.0: .*integer"),
        ("lstm", {"frontend": "wavelet"}, r"model\.params\.frontend: .*'stft'"),
        ("transformer", {"d_model": 30, "heads": 4}, r"divisible by heads=4"),
        ("rf", {"max_features": "most"}, r"model\.params\.max_features"),
        ("trivial", {"statistics": ["nope"]}, r"option statistics: unknown \['nope'\]"),
        ("envelope", {"frontend": {"axis": "order"}}, r"axis: defect"),
    ],
)
def test_bad_values_name_the_key(name, params, needle):
    with pytest.raises(ConfigError, match=needle):
        build_model(name, TWO, (1, 256), params)


def test_params_are_typed_and_defaults_fill_the_rest():
    m = build_model("cnn1d", TWO, (1, 256), {"fc": "32", "channels": [8, 8]})
    assert m.params.fc == 32 and m.params.channels == [8, 8] and m.params.kernel == 3
    assert m.params_dict()["fc"] == 32


@pytest.fixture(scope="module")
def windows():
    syn = {"duration_s": 1.0, "loads": [0], "sizes": [0.014], "locations": ["IR", "OR"]}
    cfg = DataConfig(dataset="synthetic", synthetic=syn, window=512)
    return build_windows(cfg).select_tasks(["class"])


@pytest.mark.parametrize(
    "name,params",
    [
        ("rf", {"n_estimators": 10, "n_jobs": 1}),
        ("trivial", {"n_estimators": 10, "n_jobs": 1}),
        ("minirocket", {"n_kernels": 168, "n_jobs": 1}),
    ],
)
def test_fit_never_rewrites_params(windows, name, params, tmp_path):
    model = build_model(name, windows.classes, (1, 512), params, TrainConfig(seed=0, num_threads=1))
    before = model.params.model_dump()
    fit_model(model, windows)
    assert model.params.model_dump() == before
    if name != "trivial":  # what fit took from the data is fitted state
        assert model.resolved["sampling_rate"] == windows.sampling_rate
    if name == "rf":
        assert model.resolved["features"] == ["time", "spectral"]
        assert model.resolved["bearing"] == "6205"
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "model.json").read_text())["params"]
    assert saved == model.params_dict()
    again = load_model(tmp_path / "m")
    assert again.params == model.params and again.resolved == model.resolved
    np.testing.assert_allclose(
        again.predict_proba(windows.X)["class"], model.predict_proba(windows.X)["class"]
    )


def test_older_model_json_still_loads(windows, tmp_path):
    """Runs saved before typed params wrote the resolved values into params, and may hold
    options a later version dropped: both load, and the resolved values are kept."""
    model = build_model("rf", windows.classes, (1, 512), {"n_estimators": 5, "n_jobs": 1})
    fit_model(model, windows)
    model.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["params"].update(
        features=["time", "spectral"], bearing="6205", sampling_rate=12000.0, gone_option=1
    )
    meta_path.write_text(json.dumps(meta))
    again = load_model(tmp_path / "m")
    assert again.params.features == ["time", "spectral"] and again.params.sampling_rate == 12000.0
    bad = {**meta, "params": {**meta["params"], "n_estimators": "many"}}
    meta_path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match=r"model\.json: model\.params\.n_estimators"):
        load_model(tmp_path / "m")


def test_cli_prints_the_params_table(capsys):
    assert cli_main(["models", "cnn1d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(
        i
        for i, line in enumerate(lines)
        if line.split()[:4] == ["name", "type", "default", "description"]
    )
    rows = {line.split()[0]: line for line in lines[header + 1 :]}
    assert set(rows) == set(registry()["cnn1d"].defaults)
    assert rows["first_stride"].split()[1:3] == ["int", "16"]
    assert "'flatten' | 'mean'" in rows["pooling"]


def test_validation_errors_become_config_errors_in_one_place():
    """``utils/validation.py`` is the one converter (the service answers pydantic's own 422)."""
    from pathlib import Path

    import faultlab
    from faultlab.features.order_envelope import parse_config

    root = Path(faultlab.__file__).parent
    catching = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "except ValidationError" in p.read_text(encoding="utf-8")
    )
    assert catching == ["serving/service.py", "utils/validation.py"]
    with pytest.raises(ConfigError, match=r"^model\.params\.frontend\.harmonics: .* \(got 99\)$"):
        parse_config({"harmonics": 99}, "model.params.frontend")
    with pytest.raises(ConfigError, match=r"^model\.params\.n_bands: .* \(got 0\) for rf$"):
        build_model("rf", TWO, (1, 256), {"n_bands": 0})


@pytest.mark.parametrize(
    "model,needle",
    [
        ({"name": "rf", "params": {"trees": 3}}, r"^model\.params\.trees: unknown key for rf"),
        (
            {"name": "rf", "params": {"frontend": {"kind": "order_envelope", "harmonic": 2}}},
            r"model\.params\.frontend\.harmonic",
        ),
        ({"name": "mlp", "training": {"lr": -1}}, r"^model\.training\.lr: .*greater than 0"),
    ],
)
def test_bad_model_blocks_fail_before_any_data_is_loaded(tmp_path, model, needle):
    from faultlab.experiments.config import ExperimentConfig, parse_config
    from faultlab.experiments.runner import run_folds

    raw = {"data": {"dataset": "cwru", "data_dir": str(tmp_path / "no-data")}, "model": model}
    cfg = parse_config(ExperimentConfig, raw)
    with pytest.raises(ConfigError, match=needle):
        run_folds(cfg, tmp_path / "out", log=lambda *_: None)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unknown_model_training_key_is_a_config_error():
    from faultlab.experiments.config import ExperimentConfig, parse_config

    with pytest.raises(
        ConfigError, match=r"^c\.yaml: model\.training: unknown key\(s\) \['epochz'\]"
    ):
        parse_config(
            ExperimentConfig, {"model": {"name": "mlp", "training": {"epochz": 3}}}, "c.yaml"
        )
