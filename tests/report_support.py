"""Shared by the report and benchmark tests: a test-only model registered on import
(``toy_softmax``: softmax regression on log band energies, a genuinely trained model with
per-epoch curves), the small CWRU selection they run on, and a headless-Chromium check."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
from pydantic import Field

from faultlab.contracts import FitResult, ModelSummary
from faultlab.models.base import FaultModel, ModelParams, register_model

CHROMIUM = Path("/usr/bin/chromium")


def band_features(X: np.ndarray, bands: int) -> np.ndarray:
    spec = np.abs(np.fft.rfft(X, axis=-1)) ** 2
    edges = np.linspace(0, spec.shape[-1], bands + 1).astype(int)[:-1]
    return np.log1p(np.add.reduceat(spec, edges, axis=-1)).reshape(len(X), -1)


class ToyParams(ModelParams):
    epochs: int = Field(default=12, description="full-batch gradient steps")
    lr: float = Field(default=0.5, description="step size")
    bands: int = Field(default=16, description="log band energies per window")
    fail: bool = Field(default=False, description="raise in fit (to test failed runs)")


@register_model(
    "toy_softmax",
    "test-only: softmax regression on log band energies, full-batch gradient descent",
    "test",
    ToyParams,
)
class ToySoftmax(FaultModel[ToyParams]):
    def fit(self, train, val=None, run_dir=None) -> FitResult:
        if self.params.fail:
            raise RuntimeError("toy model asked to fail")
        F = band_features(train.X, self.params.bands)
        self.mu, self.sd = F.mean(0), F.std(0) + 1e-6
        F = (F - self.mu) / self.sd
        Fv = None if val is None else (band_features(val.X, self.params.bands) - self.mu) / self.sd
        self.W = {t: np.zeros((F.shape[1] + 1, len(c))) for t, c in self.classes.items()}
        history = []
        for epoch in range(1, self.params.epochs + 1):
            for t in self.classes:
                y = train.y[t]
                m = y >= 0
                G = self._p(F[m], t)
                G[np.arange(m.sum()), y[m]] -= 1
                self.W[t] -= self.params.lr * np.c_[F[m], np.ones(m.sum())].T @ G / m.sum()
            row = {"epoch": epoch, **self._scores(F, train, "train")}
            if Fv is not None:
                row.update(self._scores(Fv, val, "val"))
            history.append(row)
        best = min(history, key=lambda r: r.get("val_loss", r["train_loss"]))["epoch"]
        return FitResult(history=history, epochs=len(history), best_epoch=best, train_seconds=0.05)

    def _p(self, F, t):
        z = np.c_[F, np.ones(len(F))] @ self.W[t]
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def _scores(self, F, ws, prefix):
        t = self.tasks[0]
        y = ws.y[t]
        m = y >= 0
        P = self._p(F[m], t)
        return {
            f"{prefix}_loss": float(-np.log(P[np.arange(m.sum()), y[m]] + 1e-12).mean()),
            f"{prefix}_accuracy": float((P.argmax(1) == y[m]).mean()),
        }

    def predict_proba(self, X):
        F = (band_features(np.asarray(X), self.params.bands) - self.mu) / self.sd
        return {t: self._p(F, t) for t in self.classes}

    def describe(self) -> ModelSummary:
        n = int(sum(w.size for w in self.W.values()))
        layers = [{"name": "bands", "type": "BandEnergy", "output_shape": [-1, 16], "params": 0}]
        layers += [
            {
                "name": f"head_{t}",
                "type": "Linear",
                "output_shape": [-1, w.shape[1]],
                "params": int(w.size),
            }
            for t, w in self.W.items()
        ]
        return ModelSummary(self.name, self.family, n, n, n * 8, layers)

    def _save_weights(self, d: Path) -> None:
        np.savez(d / "w.npz", mu=self.mu, sd=self.sd, **{f"W_{t}": w for t, w in self.W.items()})

    def _load_weights(self, d: Path) -> None:
        z = np.load(d / "w.npz")
        self.mu, self.sd = z["mu"], z["sd"]
        self.W = {t: z[f"W_{t}"] for t in self.classes}


SMALL_DATA = {
    "select": {
        "fault_end": "DE",
        "sampling_rate_hz": 12000,
        "fault_location": ["IR", "B", "OR@6"],
        "fault_diameter_in": [0.007, 0.014],
    },
    "window": 1024,
}


def chromium_check(html_path: Path, tmp_path: Path) -> str:
    """Load the page in headless Chromium with a probe script; return the probe's verdict."""
    probe = tmp_path / "probe.html"
    script = """<script>
var errors = 0;
window.addEventListener('error', function () { errors++; }, true);
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  var d = document.createElement('div'); d.id = 'probe';
  d.textContent = 'images=' + imgs.length + ' broken=' + bad + ' errors=' + errors +
    ' requests=' + performance.getEntriesByType('resource').length;
  document.body.appendChild(d);
});
</script>"""
    html = html_path.read_text()
    probe.write_text(html.replace("<body>", "<body>" + script, 1))
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probe.as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    found = re.search(r'<div id="probe">([^<]*)</div>', out.stdout)
    assert found, f"probe did not run; chromium stderr tail: {out.stderr[-500:]}"
    return found.group(1)
