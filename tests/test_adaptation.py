"""Unsupervised domain adaptation: methods, X-only target API, label-free model selection,
and the proof that no target label reaches an adaptation loss or the choice of weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultlab.data.types import UnlabelledWindows
from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.runner import prepare, run_experiment
from faultlab.models.base import build_model
from faultlab.training.adaptation import (
    METHODS,
    coral_loss,
    gaussian_kernel,
    grad_reverse,
    jmmd_loss,
    mmd_loss,
)
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

SMALL_CNN = {"first_channels": 8, "channels": [16, 16], "fc": 32}
SYNTH = {"duration_s": 1.0, "sizes": [0.007], "loads": [0, 3], "snr_db": 5.0}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _cfg(method: str = "dann", selection: str = "target_entropy", **split) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "data": {"dataset": "synthetic", "synthetic": SYNTH, "window": 512},
            "split": {
                "kind": "transfer",
                "column": "load_hp",
                "folds": ["load_hp 0 -> 3"],
                "adapt": {"mode": "blocks", **split},
            },
            "model": {"name": "cnn1d", "params": SMALL_CNN},
            "training": {
                "epochs": 2,
                "batch_size": 32,
                "progress": False,
                "num_threads": 1,
                "deterministic": True,
                "patience": None,
                "adaptation": {"method": method, "selection": selection},
            },
        }
    )


@pytest.fixture(scope="module")
def synth():
    cfg = _cfg()
    ws, (split,) = prepare(cfg)
    return ws, split


def test_losses_are_zero_for_identical_domains_and_positive_for_shifted():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 8, generator=g)
    b = torch.randn(64, 8, generator=g) * 3 + 2
    p = torch.softmax(torch.randn(64, 4, generator=g), 1)
    assert coral_loss(a, a) == 0 and coral_loss(a, b) > 0
    assert mmd_loss(a, a) < 1e-6 < mmd_loss(a, b)
    assert jmmd_loss(a, a, p, p) < 1e-6 < jmmd_loss(a, b, p, p)
    x = torch.ones(3, requires_grad=True)
    grad_reverse(x, 0.5).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -0.5))


def test_mmd_quadratic_form_matches_the_sliced_means_and_kernel_bandwidths():
    """The cheap forms (one exp over all bandwidths, MMD as w'Kw) equal the textbook ones."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    ns = 25  # unequal domain sizes
    d2 = torch.cdist(x, x).pow(2)
    base = d2.sum() / (40 * 40 - 40) / 2**2
    want_k = sum(torch.exp(-d2 / (base * 2.0**k)) for k in range(5))
    assert torch.allclose(gaussian_kernel(x), want_k, atol=1e-9)
    k = want_k
    want = k[:ns, :ns].mean() + k[ns:, ns:].mean() - 2 * k[:ns, ns:].mean()
    assert torch.allclose(mmd_loss(x[:ns], x[ns:]), want, atol=1e-9)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "none"])
def test_every_method_trains_on_target_x_only(method, synth):
    ws, split = synth
    train, target = ws.subset(split.train), UnlabelledWindows(ws.X[split.adapt])
    cfg = TrainConfig(
        epochs=1,
        batch_size=32,
        progress=False,
        num_threads=1,
        patience=None,
        adaptation={"method": method, "selection": "last"},
    )
    model = build_model("cnn1d", ws.classes, (1, ws.window_length), SMALL_CNN, cfg)
    bn = next(m for m in model.net.modules() if isinstance(m, torch.nn.BatchNorm1d))
    res = fit_model(model, train, None, target=target)
    row = res.history[-1]
    if method == "adabn":  # after training: BatchNorm statistics are the target's
        assert "adapt_loss" not in row and any("adabn" in n for n in res.notes)
        bn_in = model.net.backbone.features[0](model.net.norm(torch.from_numpy(target.X)))
        assert torch.allclose(bn.running_mean, bn_in.mean((0, 2)), atol=1e-3)
    else:
        assert np.isfinite(row["adapt_loss"]) and 0 <= row["adapt_coeff"] <= 1
    assert any(n.startswith("domain adaptation:") and "last epoch" in n for n in res.notes)


def test_target_must_be_unlabelled_windows(synth):
    ws, split = synth
    cfg = TrainConfig(epochs=1, progress=False, adaptation={"method": "coral"})
    model = build_model("cnn1d", ws.classes, (1, ws.window_length), SMALL_CNN, cfg)
    with pytest.raises(TypeError, match="UnlabelledWindows"):
        fit_model(model, ws.subset(split.train), None, target=ws.subset(split.adapt))
    with pytest.raises(TypeError):
        UnlabelledWindows(ws.subset(split.adapt))
    with pytest.raises(ConfigError, match="needs unlabelled target windows"):
        fit_model(model, ws.subset(split.train), None)


class _GuardedLabels(np.ndarray):
    """A label array that raises when any adaptation window's label is read by indexing."""

    forbidden: np.ndarray

    def __getitem__(self, idx):
        picked = np.arange(len(self))[idx]
        if np.intersect1d(np.atleast_1d(picked), self.forbidden).size:
            raise AssertionError("a target (adaptation) label was read")
        return np.asarray(self).__getitem__(idx)


@pytest.mark.parametrize("method", ["cdan+e", "jmmd"])
def test_no_target_label_reaches_adaptation_or_model_selection(method, synth, tmp_path):
    """Fails if a target label is used: (1) reading one raises; (2) poisoned labels change
    nothing - the loss, the selected epoch and the test predictions are identical."""
    ws, split = synth
    cfg = _cfg(method, "target_entropy")
    task = ws.tasks[0]

    def run(labels, name):
        ws.y[task] = labels
        try:
            return run_experiment(cfg, tmp_path / name, windows=ws, split=split, report=False)
        finally:
            ws.y[task] = clean

    clean = np.asarray(ws.y[task]).copy()
    guarded = clean.copy().view(_GuardedLabels)
    guarded.forbidden = split.adapt
    ref = run(guarded, "guarded")
    poisoned = clean.copy()
    k = len(ws.classes[task])
    poisoned[split.adapt] = (poisoned[split.adapt] + 1 + np.arange(len(split.adapt)) % (k - 1)) % k
    assert (poisoned[split.adapt] != clean[split.adapt]).all()
    out = run(poisoned, "poisoned")
    assert ref["run"]["adaptation"]["n_adapt"] == len(split.adapt) > 0
    assert out["training"]["best_epoch"] == ref["training"]["best_epoch"]
    for a, b in zip(out["training"]["final"].items(), ref["training"]["final"].items()):
        if a[0] in ("adapt_loss", "target_entropy", "train_loss"):
            assert a == pytest.approx(b)
    assert out["primary"]["accuracy"] == ref["primary"]["accuracy"]


def test_model_selection_options(synth, tmp_path):
    ws, split = synth
    m = run_experiment(
        _cfg("none", "last"), tmp_path / "last", windows=ws, split=split, report=False
    )
    assert m["training"]["best_epoch"] == m["training"]["epochs"] == 2
    assert m["run"]["adaptation"]["selection"] == "last"
    m = run_experiment(
        _cfg("none", "target_entropy"), tmp_path / "ent", windows=ws, split=split, report=True
    )
    hist = m["training"]["best"]
    assert "target_entropy" in hist
    text = (tmp_path / "ent" / "report.md").read_text()
    assert "Domain adaptation: none" in text and "target prediction entropy" in text
    assert "labels never read" in text.replace("\n", " ")


def test_adaptation_needs_an_adapt_role_and_a_deep_model(tmp_path):
    cfg = _cfg("dann", mode="none")
    ws, (split,) = prepare(cfg)
    with pytest.raises(ConfigError, match="split.adapt.mode"):
        run_experiment(cfg, tmp_path / "a", windows=ws, split=split, report=False)
    cfg = ExperimentConfig.model_validate({**_cfg("dann").model_dump(), "model": {"name": "rf"}})
    ws, (split,) = prepare(cfg)
    with pytest.raises(ConfigError, match="deep models only"):
        run_experiment(cfg, tmp_path / "b", windows=ws, split=split, report=False)


def test_per_model_adaptation_override_merges_with_the_benchmark_block():
    cfg = ExperimentConfig.model_validate(
        {
            "training": {"adaptation": {"selection": "last", "weight": 0.5}},
            "model": {"name": "cnn1d", "training": {"adaptation": {"method": "coral"}}},
        }
    )
    ad = cfg.effective_training().adaptation
    assert (ad.method, ad.selection, ad.weight) == ("coral", "last", 0.5)


class _Crash(Exception):
    pass


def test_resume_restores_the_discriminator_and_target_sampler(synth, tmp_path):
    ws, split = synth
    train, target = ws.subset(split.train), UnlabelledWindows(ws.X[split.adapt])
    cfg = TrainConfig(
        epochs=3,
        batch_size=32,
        progress=False,
        num_threads=1,
        patience=None,
        deterministic=True,
        adaptation={"method": "dann", "selection": "last"},
    )

    def model():
        return build_model("cnn1d", ws.classes, (1, ws.window_length), SMALL_CNN, cfg)

    def strip(h):
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in h]

    ref = fit_model(model(), train, None, run_dir=tmp_path / "a", target=target)

    def crash(epoch, row):
        if epoch == 1:
            raise _Crash

    with pytest.raises(_Crash):
        fit_model(model(), train, None, run_dir=tmp_path / "b", target=target, callbacks=[crash])
    resumed = fit_model(model(), train, None, run_dir=tmp_path / "b", target=target, resume=True)
    got, want = strip(resumed.history), strip(ref.history)
    assert [r["epoch"] for r in got] == [1, 2, 3]
    for g, w in zip(got, want):
        assert g == pytest.approx(w)


def test_models_command_lists_the_adaptation_methods(capsys):
    from faultlab.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {m} " in out for m in METHODS) and "target_entropy" in out
